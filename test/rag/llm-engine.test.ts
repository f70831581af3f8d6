// The engine chat model (engine:MODEL[+ADAPTER]) in its worker thread, checked against the engine run
// in this thread: with greedy sampling the worker's text must equal generate()'s exactly, on a GGUF
// (stories260K) and on a Hugging Face folder (TinyStories-656K), each with an adapter trained here by a
// short tune() with a prompt template (saved with the adapter and used for the prompt).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ResolvedConfig } from "../../src/core/config.js";
import { encodeChat } from "../../src/models/chat.js";
import { chooseChatTemplate, readAdapterChatTemplate } from "../../src/models/chat-template.js";
import { generate } from "../../src/models/generate.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { loadLora } from "../../src/models/lora/io.js";
import { chatModelSpec, createChatModel, EngineChatModel, parseEndpointSpec } from "../../src/rag/llm/index.js";
import type { ChatMessage, ChatUsage } from "../../src/rag/types.js";
import { tune } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { factRecords, QA_TEMPLATE, tempDir, writeJsonl } from "../train/helpers.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const HF656K = fixture("models/tinystories-656k-hf");
const dir = tempDir("infuse-engine-");
const MESSAGES: ChatMessage[] = [{ role: "user", content: "What is the dragon called?" }];
let config: ResolvedConfig;
let storiesAdapter: string;
let hfAdapter: string;

async function trainAdapter(model: string, out: string): Promise<string> {
  const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(16));
  const template = path.join(dir, "qa.txt");
  writeFileSync(template, QA_TEMPLATE);
  await tune({ model, data: [{ path: data }], out, template, maxSteps: 3, batchSize: 4, rank: 4, alpha: 8, lr: 2e-2 });
  return out;
}

/** The same answer computed in this thread: model, adapter, template, greedy generation. */
async function inProcess(model: string, adapter: string | undefined, maxTokens: number): Promise<string> {
  const loaded = await loadLlama(model);
  if (adapter) await loadLora(loaded.model, adapter);
  const chosen = chooseChatTemplate(loaded.tokenizer, adapter ? await readAdapterChatTemplate(adapter) : undefined);
  const ids = encodeChat(loaded.tokenizer, MESSAGES, { template: chosen.template });
  const r = await generate(loaded.model, loaded.tokenizer, ids, { temperature: 0, maxTokens, stop: chosen.stop });
  return r.text;
}

async function collect(stream: AsyncIterable<string>): Promise<string> {
  let text = "";
  for await (const piece of stream) text += piece;
  return text;
}

beforeAll(async () => {
  config = await loadConfig({
    cwd: dir,
    env: { INFUSE_HOME: path.join(dir, "home"), INFUSE_CACHE: path.join(dir, "c") },
  });
  storiesAdapter = await trainAdapter(STORIES, path.join(dir, "stories-adapter"));
  hfAdapter = await trainAdapter(HF656K, path.join(dir, "hf-adapter"));
}, 120_000);

describe("engine chat model", () => {
  it("answers exactly as generate() does in this thread, with and without the adapter (GGUF)", async () => {
    const base = await EngineChatModel.load(STORIES);
    const tuned = (await createChatModel(`engine:${STORIES}+${storiesAdapter}`, { config })) as EngineChatModel;
    try {
      expect(base.template).toBe("plain");
      expect(tuned.template).toBe("adapter");
      expect(tuned.id).toBe(`engine:${STORIES}+${storiesAdapter}`);
      const [b, t] = await Promise.all([
        collect(base.chat(MESSAGES, { maxTokens: 24 })),
        collect(tuned.chat(MESSAGES, { maxTokens: 24 })),
      ]);
      expect(b).toBe(await inProcess(STORIES, undefined, 24));
      expect(t).toBe(await inProcess(STORIES, storiesAdapter, 24));
      expect(t.length).toBeGreaterThan(0);
    } finally {
      await base.dispose();
      await tuned.dispose();
    }
  });

  it("continues a raw prompt as generate() does with text, no template, and reports its tokens", async () => {
    const base = await EngineChatModel.load(STORIES);
    try {
      let usage: ChatUsage | undefined;
      const prompt = "Once upon a time";
      const text = await collect(base.complete(prompt, { maxTokens: 16, onUsage: (u) => (usage = u) }));
      const loaded = await loadLlama(STORIES);
      const r = await generate(loaded.model, loaded.tokenizer, prompt, { temperature: 0, maxTokens: 16 });
      expect(text).toBe(r.text);
      expect(text.length).toBeGreaterThan(0);
      expect(usage).toEqual({ promptTokens: r.promptTokens, completionTokens: r.tokens.length });
      // a chat turn of the same words goes through the (plain) template: a longer prompt
      let chatUsage: ChatUsage | undefined;
      await collect(base.chat([{ role: "user", content: prompt }], { maxTokens: 4, onUsage: (u) => (chatUsage = u) }));
      expect(chatUsage!.promptTokens).toBeGreaterThan(r.promptTokens);
    } finally {
      await base.dispose();
    }
  });

  it("runs a Hugging Face folder with its adapter; a plain folder --llm goes to the engine", async () => {
    const tuned = (await createChatModel(chatModelSpec(HF656K, hfAdapter)!, { config })) as EngineChatModel;
    const base = await createChatModel(HF656K, { config });
    try {
      expect(base).toBeInstanceOf(EngineChatModel);
      expect(tuned.template).toBe("adapter");
      expect(await collect(tuned.chat(MESSAGES, { maxTokens: 20 }))).toBe(await inProcess(HF656K, hfAdapter, 20));
      expect(await collect(base.chat(MESSAGES, { maxTokens: 20 }))).toBe(await inProcess(HF656K, undefined, 20));
    } finally {
      await tuned.dispose();
      await base?.dispose?.();
    }
  });

  it("stops on abort mid-generation and keeps answering afterwards; dispose ends the worker", async () => {
    const model = await EngineChatModel.load(STORIES);
    const ctl = new AbortController();
    let pieces = 0;
    const stream = model.chat(MESSAGES, { maxTokens: 200, signal: ctl.signal, stop: [] });
    await expect(
      (async () => {
        for await (const _ of stream) if (++pieces === 2) ctl.abort();
      })(),
    ).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });
    expect(pieces).toBe(2);
    expect(await collect(model.chat(MESSAGES, { maxTokens: 8 }))).toBe(await inProcess(STORIES, undefined, 8));
    // an error during generation in the worker arrives with its code and kind
    await expect(collect(model.chat([{ role: "user", content: "Lily ran. ".repeat(700) }]))).rejects.toMatchObject({
      code: "model.context_full",
      kind: "input",
    });
    await model.dispose();
    await expect(collect(model.chat(MESSAGES))).rejects.toMatchObject({ kind: "cancelled" });
  });

  it("names a bad adapter clearly; a worker's error keeps its code and kind", async () => {
    await expect(EngineChatModel.load(STORIES, { adapter: path.join(dir, "nope") })).rejects.toMatchObject({
      code: "llm.adapter_not_found",
      kind: "not_found",
    });
    // an adapter trained on stories260K does not fit the 656K model: the worker's loadLora says so
    await expect(EngineChatModel.load(HF656K, { adapter: storiesAdapter })).rejects.toMatchObject({
      code: "lora.shape_mismatch",
      kind: "input",
    });
  });

  it("takes the config-file form: rag.llm { provider: engine | local, model, adapter }", async () => {
    const home = tempDir("infuse-engine-config-");
    const llm = { provider: "local", model: STORIES, adapter: storiesAdapter };
    writeFileSync(path.join(home, "infuse.config.json"), JSON.stringify({ rag: { llm } }));
    const fromFile = await loadConfig({ cwd: home, env: { INFUSE_HOME: path.join(home, "h") } });
    expect(fromFile.rag.llm).toEqual(llm);
    const model = await createChatModel(fromFile.rag.llm!, { config: fromFile });
    try {
      expect(model).toBeInstanceOf(EngineChatModel);
      expect((model as EngineChatModel).template).toBe("adapter");
      expect(await collect(model.chat(MESSAGES, { maxTokens: 6 }))).toBe(await inProcess(STORIES, storiesAdapter, 6));
    } finally {
      await model.dispose?.();
    }
    writeFileSync(
      path.join(home, "infuse.config.json"),
      JSON.stringify({ rag: { llm: { provider: "llamacpp", model: "x" } } }),
    );
    await expect(loadConfig({ cwd: home, env: {} })).rejects.toMatchObject({ kind: "usage" });
  });

  it("parses engine specs and --adapter into one spec", () => {
    expect(parseEndpointSpec("engine:base.gguf+runs/a")).toEqual({
      provider: "engine",
      model: "base.gguf",
      adapter: "runs/a",
    });
    expect(parseEndpointSpec("engine:base.gguf")).toEqual({ provider: "engine", model: "base.gguf" });
    expect(chatModelSpec("base.gguf", undefined)).toBe("base.gguf");
    expect(chatModelSpec("base.gguf", "runs/a")).toEqual({ provider: "engine", model: "base.gguf", adapter: "runs/a" });
    expect(() => chatModelSpec("openai:gpt-4o-mini", "runs/a")).toThrow(/cannot take an adapter/);
    expect(() => chatModelSpec(undefined, "runs/a")).toThrow(/needs the base model/);
  });
});
