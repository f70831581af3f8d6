// LLM-written queries through a real OpenAI-compatible server on 127.0.0.1: a good answer is kept,
// a malformed one is asked again (--retries) and, still malformed, counted and never written; the
// prompt is a replaceable file; passages run concurrently; a second run resumes the pairs file.
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EndpointSpec } from "../../src/core/config.js";
import {
  defaultPromptFile,
  generateQueries,
  loadPromptTemplate,
  parseAnswer,
  readPairs,
  renderPrompt,
  type Passage,
} from "../../src/rag/embed-data/index.js";
import type { ChatMessage, ChatModel } from "../../src/rag/types.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { startModelServer, type ModelServer } from "../helpers/model-server.js";
import { offlineConfig } from "../helpers/rag-config.js";

const PASSAGES: Passage[] = [
  { id: "g1", title: "Bees", text: "GOOD-1 Honey bees dance to tell the hive where flowers are." },
  { id: "f1", text: "FLAKY-1 Salmon find their home stream by its smell." },
  { id: "b1", text: "BAD-1 Lichens grow on bare rock." },
  { id: "g2", text: "GOOD-2 Mangroves shelter young fish among their roots." },
];

/** A chat model that answers by the passage's marker; it counts calls and the most in flight. */
function scripted(): ChatModel & { calls: Map<string, number>; maxInFlight: number } {
  let inFlight = 0;
  const model = {
    id: "scripted",
    calls: new Map<string, number>(),
    maxInFlight: 0,
    async *chat(messages: ChatMessage[]) {
      const text = messages.at(-1)!.content;
      const marker = /(GOOD|FLAKY|BAD)-\d/.exec(text)?.[0] ?? "none";
      const call = (model.calls.get(marker) ?? 0) + 1;
      model.calls.set(marker, call);
      inFlight++;
      model.maxInFlight = Math.max(model.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      if (marker.startsWith("BAD") || (marker.startsWith("FLAKY") && call === 1)) {
        yield '{"query": ["unterminated';
        return;
      }
      yield "Sure! Here you go:\n```json\n";
      yield JSON.stringify({
        query: [`what about ${marker}?`, `${marker} facts`, `what about ${marker}?`],
        positive: ["x"],
      });
      yield "\n```";
    },
  };
  return model;
}

describe("embed queries with an LLM over HTTP", () => {
  let dir: string;
  let server: ModelServer;
  let model: ReturnType<typeof scripted>;
  let llm: EndpointSpec;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "infuse-embed-queries-"));
    model = scripted();
    server = await startModelServer({ chat: model, models: ["scripted"] });
    llm = { provider: "openai", model: "scripted", baseUrl: `${server.url}/v1` };
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("parses answers: JSON in prose or fences, a string or a list; anything else is malformed", () => {
    expect(parseAnswer('ok ```json\n{"query": "a b", "positive": ["p"]}\n```', 3)).toEqual({
      ok: true,
      queries: ["a b"],
    });
    expect(parseAnswer('{"query": ["a", " a ", "b {x}", "c"]}', 2)).toEqual({ ok: true, queries: ["a", "b {x}"] });
    expect(parseAnswer("no json here", 3).ok).toBe(false);
    expect(parseAnswer('{"query": 3}', 3).ok).toBe(false);
    expect(parseAnswer('{"query": ["a"], "positive": "p"}', 3).ok).toBe(false);
    expect(parseAnswer('{"query": [" "]}', 3).ok).toBe(false);
  });

  it("keeps good answers, retries malformed ones, counts those that stay malformed; resumes", async () => {
    const out = path.join(dir, "pairs.jsonl");
    const config = offlineConfig(dir);
    const first = await generateQueries(
      { passages: PASSAGES },
      { config, out, llm, queriesPerPassage: 2, retries: 2, concurrency: 3, limit: 3 },
    );
    expect(first).toMatchObject({
      mode: "llm:openai:scripted",
      passages: 3,
      skipped: 0,
      queriesWritten: 4,
      malformed: 1,
      retried: 3, // FLAKY once, BAD twice
      sources: { "llm:openai:scripted": 4 },
    });
    expect(first.malformedExamples).toEqual([
      expect.objectContaining({ passage: "b1", answer: '{"query": ["unterminated' }),
    ]);
    expect(model.calls.get("BAD-1")).toBe(3);
    expect(model.calls.get("FLAKY-1")).toBe(2);
    expect(model.maxInFlight).toBeGreaterThan(1);
    const pairs = await readPairs(out);
    expect(pairs.map((p) => p.query)).toEqual([
      "what about GOOD-1?",
      "GOOD-1 facts",
      "what about FLAKY-1?",
      "FLAKY-1 facts",
    ]);
    expect(pairs[0]).toEqual({
      query: "what about GOOD-1?",
      pos: [`Bees\n${PASSAGES[0]!.text}`],
      source: "llm:openai:scripted",
      pos_ids: ["g1"],
    });
    // the shipped prompt went out with the passage and N filled in
    const sent = server.requests.find((r) => JSON.stringify(r.body).includes("GOOD-1"))!;
    const content = (sent.body["messages"] as ChatMessage[])[0]!.content;
    const template = await readFile(defaultPromptFile(), "utf8");
    expect(content).toBe(renderPrompt(template, PASSAGES[0]!, 2));
    expect(content).toContain('{"query": [');

    // a second run skips what is done (the malformed passage is asked again), with a prompt of our own
    const prompt = path.join(dir, "prompt.txt");
    await writeFile(prompt, "Give {n} queries as JSON for: {passage}");
    model.maxInFlight = 0;
    const second = await generateQueries({ passages: PASSAGES }, { config, out, llm, prompt, queriesPerPassage: 1 });
    expect(second).toMatchObject({ passages: 4, skipped: 2, queriesWritten: 1, malformed: 1, prompt });
    expect(model.maxInFlight).toBe(1);
    const last = server.requests.at(-1)!;
    expect((last.body["messages"] as ChatMessage[])[0]!.content).toBe(
      `Give 1 queries as JSON for: ${PASSAGES[3]!.text}`,
    );
    expect((await readPairs(out)).map((p) => p.pos_ids![0])).toEqual(["g1", "g1", "f1", "f1", "g2"]);
  });

  it("offline without an LLM, and resumes a file cut mid-line", async () => {
    const out = path.join(dir, "offline.jsonl");
    const config = offlineConfig(dir);
    const passages: Passage[] = [
      { id: "a", title: "Bees", text: "Honey bees dance to share directions. The angle of the dance points to food." },
      { id: "b", title: "Salmon", text: "Salmon smell their way home. They return to the stream where they hatched." },
    ];
    const all = await generateQueries({ passages }, { config, out });
    expect(all).toMatchObject({ mode: "offline", queriesWritten: 4, sources: { title: 2, "inverse-cloze": 2 } });
    const text = await readFile(out, "utf8");
    const lines = text.trim().split("\n");
    await writeFile(out, `${lines.slice(0, 2).join("\n")}\n${lines[2]!.slice(0, 12)}`);
    const again = await generateQueries({ passages }, { config, out });
    expect(again).toMatchObject({ skipped: 1, queriesWritten: 2 });
    expect(await readFile(out, "utf8")).toBe(text);
  });

  it("ships the default prompt: the build copies it beside the compiled module", async () => {
    const dist = path.join(dir, "dist");
    execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts/copy-assets.mjs"), "--out", dist]);
    const copied = path.join(dist, "rag/embed-data/query-prompt.txt");
    expect(await readFile(copied, "utf8")).toBe(await readFile(defaultPromptFile(), "utf8"));
    expect((await loadPromptTemplate(copied)).template).toContain("{passage}");
    await writeFile(path.join(dir, "no-passage.txt"), "Write {n} queries.");
    await expect(loadPromptTemplate(path.join(dir, "no-passage.txt"))).rejects.toMatchObject({
      code: "embed.prompt_no_passage",
    });
  });
});
