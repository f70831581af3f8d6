// Sampling (greedy, seeded draws, top-k/top-p/min-p cuts, repetition penalty), streaming generation
// with stop strings and max tokens on stories260K, and `infuse generate` end to end.
import { beforeAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { encodeChat } from "../../src/models/chat.js";
import { PLAIN_CHAT_STOPS, PLAIN_CHAT_TEMPLATE } from "../../src/models/chat-template.js";
import { generate, streamGenerate } from "../../src/models/generate.js";
import { loadLlamaFolder, loadLlamaGguf, type LoadedLlama } from "../../src/models/llama/load.js";
import { Sampler } from "../../src/models/sampling.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { greedy } from "./helpers.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const PROMPT = "Once upon a time, there was a little girl named Lily.";
let loaded: LoadedLlama;

beforeAll(async () => {
  loaded = await loadLlamaGguf(STORIES);
});

/** Logits over 6 tokens with probabilities ∝ 32, 16, 8, 4, 2, 1 at temperature 1. */
const LOGITS = Float32Array.from([5, 4, 3, 2, 1, 0].map((v) => v * Math.log(2)));

function counts(sampler: Sampler, n: number, history: number[] = []): number[] {
  const c = new Array<number>(LOGITS.length).fill(0);
  for (let i = 0; i < n; i++) c[sampler.sample(LOGITS, history)]!++;
  return c;
}

describe("sampling", () => {
  it("is greedy at temperature 0 and reproducible with a seed", () => {
    expect(counts(new Sampler({ temperature: 0 }), 20)).toEqual([20, 0, 0, 0, 0, 0]);
    const opts = { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 42 };
    expect(counts(new Sampler(opts), 200)).toEqual(counts(new Sampler(opts), 200));
    expect(counts(new Sampler({ ...opts, seed: 43 }), 200)).not.toEqual(counts(new Sampler(opts), 200));
  });

  it("draws in proportion to the probabilities, and temperature sharpens them", () => {
    const c = counts(new Sampler({ temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1 }), 6300);
    const expected = [32, 16, 8, 4, 2, 1].map((w) => (w / 63) * 6300);
    c.forEach((n, i) => expect(Math.abs(n - expected[i]!)).toBeLessThan(4 * Math.sqrt(expected[i]!) + 5));
    const cold = counts(new Sampler({ temperature: 0.25, topK: 0, topP: 1, minP: 0, seed: 1 }), 1000);
    expect(cold[0]!).toBeGreaterThan(900); // 2^4 : 1 per step at T = 1/4
  });

  it("cuts candidates by top-k, top-p and min-p", () => {
    const base = { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 5 };
    expect(counts(new Sampler({ ...base, topK: 2 }), 500).slice(2)).toEqual([0, 0, 0, 0]);
    // top-p 0.75: 32/63 = 0.51, + 16/63 = 0.76 ≥ 0.75 → two tokens
    expect(counts(new Sampler({ ...base, topP: 0.75 }), 500).slice(2)).toEqual([0, 0, 0, 0]);
    // min-p 0.2: tokens with p ≥ 0.2 · 32/63 → 32, 16, 8 kept
    const m = counts(new Sampler({ ...base, minP: 0.2 }), 2000);
    expect(m.slice(3)).toEqual([0, 0, 0]);
    expect(m[2]!).toBeGreaterThan(0);
  });

  it("penalizes tokens seen recently", () => {
    const s = new Sampler({ temperature: 0, repetitionPenalty: 2 });
    expect(s.sample(LOGITS, [0])).toBe(1); // 5·ln2 / 2 < 4·ln2
    expect(s.sample(LOGITS, [1])).toBe(0);
    expect(() => new Sampler({ topP: 0 })).toThrow(InfuseError);
  });
});

describe("generation", () => {
  it("streams pieces that add up to the greedy continuation, ending at max tokens", async () => {
    const { model, tokenizer } = loaded;
    const pieces: string[] = [];
    const it = streamGenerate(model, tokenizer, PROMPT, { temperature: 0, maxTokens: 24 });
    let step = await it.next();
    while (!step.done) {
      pieces.push(step.value.text);
      step = await it.next();
    }
    const result = step.value;
    expect(result.finishReason).toBe("length");
    expect(result.tokens).toEqual(greedy(model, tokenizer.encode(PROMPT), 24).tokens);
    expect(pieces.join("")).toBe(result.text);
    expect(result.text).toBe(tokenizer.decode(result.tokens));
    expect(result.tokensPerSecond).toBeGreaterThan(0);
  });

  it("stops before a stop string and at end of story", async () => {
    const { model, tokenizer } = loaded;
    const full = await generate(model, tokenizer, PROMPT, { temperature: 0, maxTokens: 40 });
    const word = full.text.split(" ").filter((w) => w.length > 3)[3]!;
    const cut = await generate(model, tokenizer, PROMPT, { temperature: 0, maxTokens: 40, stop: [word] });
    expect(cut.finishReason).toBe("stop");
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(word)));
    // TinyStories-656K ends its stories with <|end_story|>, its EOS.
    const hf = await loadLlamaFolder(fixture("models/tinystories-656k-hf"));
    const story = await generate(hf.model, hf.tokenizer, "Once upon a time", { temperature: 0, maxTokens: 400 });
    expect(story.finishReason).toBe("eos");
    expect(story.tokens.length).toBeLessThan(400);
    expect(story.tokens).not.toContain(hf.tokenizer.eosId);
  });

  it("ends with a cancelled error when aborted", async () => {
    const ac = new AbortController();
    const it = streamGenerate(loaded.model, loaded.tokenizer, PROMPT, { maxTokens: 50, signal: ac.signal, seed: 1 });
    await it.next();
    ac.abort();
    const err = await it.next().catch((e: unknown) => e);
    expect((err as InfuseError).code).toBe("cancelled");
  });
});

describe("infuse generate", () => {
  it("prints text, token ids and tokens/s with --json, equal to the library's greedy run", async () => {
    const r = await runCli(["generate", STORIES, "--prompt", PROMPT, "--temperature", "0", "-n", "16", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; tokens: number[]; tokens_per_s: number };
    const lib = await generate(loaded.model, loaded.tokenizer, PROMPT, { temperature: 0, maxTokens: 16 });
    expect(out.tokens).toEqual(lib.tokens);
    expect(out.text).toBe(lib.text);
    expect(out.tokens_per_s).toBeGreaterThan(0);
  });

  it("--chat on a model without a chat template asks for --template; --template plain is the plain prompt", async () => {
    const bare = await runCli(["generate", STORIES, "--chat", "hi", "-n", "2"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("has no chat template");
    expect(bare.stderr).toContain("--template chatml");
    expect(bare.stderr).not.toMatch(/chooseChatTemplate|encodeChat/);
    const args = ["generate", STORIES, "--chat", "hi", "--template", "plain", "--temperature", "0", "-n", "12"];
    const chat = await runCli([...args, "--json"]);
    expect(chat.code).toBe(0);
    const out = JSON.parse(chat.stdout) as { text: string; chat_template: string };
    expect(out.chat_template).toBe("plain");
    const ids = encodeChat(loaded.tokenizer, [{ role: "user", content: "hi" }], { template: PLAIN_CHAT_TEMPLATE });
    const lib = await generate(loaded.model, loaded.tokenizer, ids, {
      temperature: 0,
      maxTokens: 12,
      stop: PLAIN_CHAT_STOPS,
    });
    expect(out.text).toBe(lib.text);
    const none = await runCli(["generate", STORIES]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--prompt or --chat/);
  });
});

describe("infuse generate --chat and limits.templateMaxChars", () => {
  it("renders the chat template under the config's limit, naming the key", async () => {
    const { mkdtemp, writeFile } = await import("node:fs/promises");
    const os = await import("node:os");
    const path = await import("node:path");
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-template-limit-"));
    const config = path.join(dir, "infuse.config.json");
    await writeFile(config, JSON.stringify({ limits: { templateMaxChars: 20 } }));
    const model = fixture("models/stories260K-gguf/stories260K.gguf");
    const r = await runCli(
      ["generate", model, "--chat", "Tell me a story", "--template", "plain", "-n", "2", "--json"],
      {
        env: { INFUSE_CONFIG: config },
      },
    );
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: "chat_template.limit", kind: "input" });
    expect(r.stdout).toContain("limits.templateMaxChars");
  });
});
