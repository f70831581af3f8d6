// The local GGUF chat model on the real stories260K (llama, no chat template) through node-llama-cpp:
// streaming, maxTokens, stop strings, seeds, raw completions (against infuse's engine), abort, and
// one-call-at-a-time.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kv, openGguf, writeGguf, type GgufTensorInput } from "../../src/formats/gguf/index.js";
import type { ResolvedConfig } from "../../src/core/config.js";
import { InfuseError } from "../../src/core/errors.js";
import { createChatModel, GgufChatModel } from "../../src/rag/llm/index.js";
import type { ChatMessage, ChatModel, ChatOptions, ChatUsage } from "../../src/rag/types.js";
import { generate } from "../../src/models/generate.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { fixture } from "../helpers/fixtures.js";

const STORIES = "models/stories260K-gguf/stories260K.gguf";
const config: ResolvedConfig = {
  file: undefined,
  cacheDir: "/nonexistent-cache",
  dataDir: "/nonexistent-data",
  hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
  rag: {},
};
const ask: ChatMessage[] = [{ role: "user", content: "Once upon a time there was a little girl" }];

async function collect(model: ChatModel, messages: ChatMessage[], options: ChatOptions): Promise<string[]> {
  const pieces: string[] = [];
  for await (const p of model.chat(messages, options)) pieces.push(p);
  return pieces;
}

describe("GGUF chat model (stories260K)", () => {
  let model: ChatModel;
  beforeAll(async () => {
    model = await createChatModel(fixture(STORIES), { config });
  });
  afterAll(async () => {
    await model.dispose?.();
  });

  it("loads as a local model without a chat template and names the file in its id", () => {
    expect(model).toBeInstanceOf(GgufChatModel);
    expect((model as GgufChatModel).hasChatTemplate).toBe(false);
    expect((model as GgufChatModel).promptFormat).toBe("General");
    expect(model.id).toBe(`gguf:${fixture(STORIES)}`);
  });

  it("streams the answer in several pieces", async () => {
    const pieces = await collect(model, ask, { maxTokens: 24, temperature: 0 });
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join("").trim().length).toBeGreaterThan(10);
  });

  it("maxTokens cuts the same greedy answer short", async () => {
    const long = (await collect(model, ask, { maxTokens: 40, temperature: 0 })).join("");
    const short = (await collect(model, ask, { maxTokens: 4, temperature: 0 })).join("");
    expect(short.length).toBeGreaterThan(0);
    expect(short.length).toBeLessThan(long.length);
    expect(long.startsWith(short)).toBe(true);
  });

  it("stops before a stop string and leaves it out", async () => {
    const full = (await collect(model, ask, { maxTokens: 40, temperature: 0 })).join("");
    const words = full.trim().split(/\s+/);
    expect(words.length).toBeGreaterThan(4);
    const stopWord = words[3]!;
    const cut = full.indexOf(stopWord, full.indexOf(words[2]!) + words[2]!.length);
    const stopped = (await collect(model, ask, { maxTokens: 40, temperature: 0, stop: [stopWord] })).join("");
    expect(stopped).toBe(full.slice(0, cut));
    expect(stopped).not.toContain(stopWord);
  });

  it("gives the same sample for the same seed and another for another seed", async () => {
    const opts = { maxTokens: 30, temperature: 1.2, topP: 0.95 };
    const a = (await collect(model, ask, { ...opts, seed: 11 })).join("");
    const b = (await collect(model, ask, { ...opts, seed: 11 })).join("");
    const c = (await collect(model, ask, { ...opts, seed: 12345 })).join("");
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it("continues a raw prompt as infuse's engine does (greedy), and a chat after it answers as before", async () => {
    const prompt = "Once upon a time there was";
    const before = (await collect(model, ask, { maxTokens: 12, temperature: 0 })).join("");
    let usage: ChatUsage | undefined;
    let text = "";
    for await (const p of model.complete!(prompt, { maxTokens: 12, temperature: 0, onUsage: (u) => (usage = u) }))
      text += p;
    const loaded = await loadLlama(fixture(STORIES));
    const ours = await generate(loaded.model, loaded.tokenizer, prompt, { temperature: 0, maxTokens: 12 });
    expect(text).toBe(ours.text);
    expect(usage!.promptTokens).toBe(ours.promptTokens); // the words and llama.cpp's BOS
    // the completion ran on the chat's sequence: the next chat evaluates its own prompt again
    expect((await collect(model, ask, { maxTokens: 12, temperature: 0 })).join("")).toBe(before);
  });

  it("an aborted signal ends the stream with a cancelled error", async () => {
    const controller = new AbortController();
    const pieces: string[] = [];
    const run = async () => {
      for await (const p of model.chat(ask, { maxTokens: 200, temperature: 0, signal: controller.signal })) {
        pieces.push(p);
        if (pieces.length === 2) controller.abort();
      }
    };
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InfuseError);
    expect((error as InfuseError).kind).toBe("cancelled");
    expect(pieces.length).toBe(2);

    const already = AbortSignal.abort();
    await expect(collect(model, ask, { signal: already })).rejects.toMatchObject({ kind: "cancelled" });
  });

  it("a consumer that stops reading frees the model for the next call", async () => {
    for await (const _ of model.chat(ask, { maxTokens: 200, temperature: 0 })) break;
    const again = await collect(model, ask, { maxTokens: 6, temperature: 0 });
    expect(again.join("").length).toBeGreaterThan(0);
  });

  it("concurrent calls run one after the other and each gets its own answer", async () => {
    const [x, y] = await Promise.all([
      collect(model, ask, { maxTokens: 12, temperature: 0 }),
      collect(model, [{ role: "user", content: "The dog" }], { maxTokens: 12, temperature: 0 }),
    ]);
    const soloX = await collect(model, ask, { maxTokens: 12, temperature: 0 });
    expect(x.join("")).toBe(soloX.join(""));
    expect(y.join("").length).toBeGreaterThan(0);
  });

  it("uses the GGUF's chat template when it has one", async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-llm-template-"));
    const source = await openGguf(fixture(STORIES));
    const metadata = new Map(source.metadata);
    const template =
      "{% for m in messages %}[{{ m['role'] | upper }}] {{ m['content'] }}\n{% endfor %}" +
      "{% if add_generation_prompt %}[ASSISTANT] {% endif %}";
    metadata.set("tokenizer.chat_template", kv.str(template));
    const tensors: GgufTensorInput[] = [];
    for (const t of source.tensors) {
      tensors.push({ name: t.name, dims: t.dims, type: t.type, bytes: await source.readTensorBytes(t.name) });
    }
    source.close();
    const file = path.join(tmp, "stories-with-template.gguf");
    await writeGguf(file, { metadata, tensors });
    const templated = (await createChatModel(file, { config })) as GgufChatModel;
    expect(templated.hasChatTemplate).toBe(true);
    expect(templated.promptFormat).toBe("JinjaTemplate");
    const answer = await collect(templated, [{ role: "system", content: "Be kind." }, ...ask], {
      maxTokens: 8,
      temperature: 0,
    });
    expect(answer.join("").length).toBeGreaterThan(0);
    await templated.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it("a missing model file is a not_found error naming it", async () => {
    await expect(createChatModel("/no/such/model.gguf", { config })).rejects.toMatchObject({
      kind: "not_found",
      message: expect.stringContaining("/no/such/model.gguf"),
    });
  });
});
