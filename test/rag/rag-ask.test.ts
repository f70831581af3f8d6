// Asking and chatting end to end with real models: the local GGUF (stories260K through
// node-llama-cpp) directly and behind a real OpenAI-compatible HTTP server on 127.0.0.1, the
// extractive fallback when none is configured or the server is down, and the inference log.
import { readFile } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedConfig } from "../../src/core/config.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { checkCitations } from "../../src/rag/generate/citations.js";
import { extractiveAnswer } from "../../src/rag/generate/extractive.js";
import { buildAnswerPrompt } from "../../src/rag/generate/prompt.js";
import { ask, type AskOptions } from "../../src/rag/pipeline/ask.js";
import { ChatSession } from "../../src/rag/pipeline/chat.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import { resolveChatModel } from "../../src/rag/pipeline/models.js";
import type { ChatModel } from "../../src/rag/types.js";
import { fixture, REPO_ROOT } from "../helpers/fixtures.js";
import { startModelServer, type ModelServer } from "../helpers/model-server.js";

const embedder = new HashingEmbedder();
const STORIES = "models/stories260K-gguf/stories260K.gguf";

describe("ask and chat", () => {
  let dataDir: string;
  let config: ResolvedConfig;
  let gguf: ChatModel;
  let server: ModelServer;
  let base: AskOptions;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-ask-"));
    config = {
      file: undefined,
      cacheDir: path.join(dataDir, "cache"),
      dataDir,
      hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
      rag: {},
    };
    await ingestPath("demo", path.join(REPO_ROOT, "examples/sample-docs"), { dataDir, embedder });
    const choice = await resolveChatModel(fixture(STORIES), { config });
    gguf = choice.model!;
    server = await startModelServer({ chat: gguf });
    // stories260K has a 512-token context: a short prompt and answer
    base = {
      dataDir,
      collection: "demo",
      embedder,
      recipe: { top_k: 2 },
      prompt: { maxContextChars: 500 },
      generate: { maxTokens: 12, temperature: 0 },
    };
  });
  afterAll(async () => {
    await server?.close();
    await gguf?.dispose?.();
  });

  it("answers extractively, cited, when no model is configured, and logs the ask", async () => {
    const none = await resolveChatModel(undefined, { config });
    expect(none.reason).toContain("no language model is configured");
    const r = await ask("How long must passwords be?", { ...base, noLlmReason: none.reason! });
    expect(r.mode).toBe("extractive");
    expect(r.note).toContain("no language model");
    expect(r.answer).toContain("Passwords must be at least 14 characters long");
    expect(r.answer).toMatch(/\[1\]$/m);
    expect(r.sources[0]).toMatchObject({ n: 1, source: "security-policy.pdf", page: 1, retriever: "bm25" });
    const log = (await readFile(path.join(dataDir, "logs/inference.jsonl"), "utf8")).trim().split("\n");
    const entry = JSON.parse(log[log.length - 1]!);
    expect(entry).toMatchObject({
      question: "How long must passwords be?",
      mode: "extractive",
      llm: null,
      embedder: "hash-512",
      prompt_chars: 0,
      answer: r.answer,
    });
    expect(entry.retrieved[0]).toEqual({
      chunk_id: r.sources[0]!.chunk_id,
      source: "security-policy.pdf",
      score: r.sources[0]!.score,
    });
    expect(Object.keys(entry.latency_ms)).toEqual(["retrieve", "generate", "total"]);
  });

  it("streams a generative answer from the local GGUF model with numbered passages in the prompt", async () => {
    const pieces: string[] = [];
    const r = await ask("How do I claim travel expenses?", { ...base, llm: gguf, onToken: (p) => pieces.push(p) });
    expect(r.mode).toBe("generative");
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("").trim()).toBe(r.answer);
    expect(r.promptChars).toBeGreaterThan(200);
    // sources are the passages the answer cites, numbered as the prompt numbered them
    expect(r.sources.map((s) => s.n)).toEqual(checkCitations(r.answer, r.hits.length).cited);
    expect(r.invalidCitations).toEqual(checkCitations(r.answer, r.hits.length).invalid);
    const prompt = buildAnswerPrompt("q?", r.hits, { maxContextChars: 500 });
    expect(prompt.messages[1]!.content).toContain(
      `<passage-${prompt.nonce} n="1" source="handbook.md › Harbor Labs team handbook › Expenses › Travel">\n`,
    );
    expect(prompt.messages[0]!.content).toContain("cite the passages");
  });

  it("answers through an OpenAI-compatible server; a named server that is down is an error, not a fallback", async () => {
    const remote = await resolveChatModel(
      { provider: "openai", model: "stories", baseUrl: `${server.url}/v1` },
      { config },
    );
    const r = await ask("What changed in version 2.4?", { ...base, llm: remote.model! });
    expect(r.mode).toBe("generative");
    const request = server.requests.find((q) => q.path === "/v1/chat/completions");
    const messages = request!.body["messages"] as { role: string; content: string }[];
    expect(messages[1]!.content).toMatch(
      /<passage-[0-9a-f]{16} n="1" source="release-notes\.html › TideCast release notes › Version 2\.4">/,
    );

    const down = await resolveChatModel(
      { provider: "openai", model: "x", baseUrl: "http://127.0.0.1:9/v1" },
      { config },
    );
    await expect(ask("What changed in version 2.4?", { ...base, llm: down.model! })).rejects.toMatchObject({
      kind: "network",
    });
  });

  it("chat rewrites follow-ups to stand alone before retrieval (model, or the previous question)", async () => {
    const lexical = await ChatSession.open({ ...base });
    const first = await lexical.ask("How long must passwords be?");
    expect(first).toMatchObject({ rewrite: "none", mode: "extractive" });
    const second = await lexical.ask("And where are they stored?");
    expect(second.rewrite).toBe("previous-question");
    expect(second.standalone).toBe("And where are they stored? long passwords");
    expect(second.sources[0]!.source).toBe("security-policy.pdf");
    await lexical.close();

    const withModel = await ChatSession.open({ ...base, llm: gguf });
    await withModel.ask("How do I claim travel expenses?");
    const followUp = await withModel.ask("Within how many days?");
    expect(followUp.rewrite).toBe("llm");
    expect(followUp.standalone).toBeTruthy();
    expect(withModel.history.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    await withModel.close();
  });

  it("extractive answers quote the question's best sentences and skip unrelated passages", () => {
    const hit = (text: string, n: number) => ({
      chunk: { id: String(n), text, source: "s", start: 0, end: text.length, metadata: {} },
      score: 1,
      retriever: "bm25",
    });
    const answer = extractiveAnswer("When does the office open?", [
      hit("# Office\n\nThe office is on the quay.\nIt opens at\n08:00 on working days. Bring a badge.", 1),
      hit("Parking is shared.", 2),
    ]);
    expect(answer).toBe("The office is on the quay. It opens at 08:00 on working days. [1]");
  });
});
