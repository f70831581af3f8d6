// Batched decoding on stories260K and TinyStories-656K: a sequence decoded in a batch gives the tokens it
// gives alone (logits within 1e-4: the batch multiplies B rows at once, whose kernels may sum in
// another order than one row's), sequences joining and leaving between steps change no other sequence,
// and BatchGenerator gives every generation (greedy, seeded, stop strings, EOS) streamGenerate's text.
import { beforeAll, describe, expect, it } from "vitest";
import type { InfuseError } from "../../src/core/errors.js";
import { BatchGenerator } from "../../src/models/batch-generate.js";
import { generate, streamGenerate, type GenerateOptions } from "../../src/models/generate.js";
import { BatchDecoder, kvBytesPerToken } from "../../src/models/llama/batch-decode.js";
import type { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlamaFolder, loadLlamaGguf, type LoadedLlama } from "../../src/models/llama/load.js";
import { argmax } from "../../src/models/sampling.js";
import { fixture } from "../helpers/fixtures.js";
import { greedy } from "./helpers.js";

/** Max |batched − alone| over every logit: f32 rounding of a different summation order. */
const LOGIT_TOLERANCE = 1e-4;
const STEPS = 12;

let loaded: LoadedLlama;
let prompts: number[][];

beforeAll(async () => {
  loaded = await loadLlamaGguf(fixture("models/stories260K-gguf/stories260K.gguf"));
  const texts = ["Once upon a time", "The little dog", "Lily wanted to", "One day, a bird", "Tom and Sue went"];
  prompts = Array.from({ length: 8 }, (_, i) => loaded.tokenizer.encode(`${texts[i % 5]!}${i >= 5 ? " home" : ""}`));
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A sequence of the batch: its decoder, its greedy tokens so far, and the logits that chose them. */
interface Seq {
  dec: LlamaDecoder;
  tokens: number[];
  logits: Float32Array[];
}

function join(batch: BatchDecoder, prompt: number[], steps = STEPS): Seq {
  const dec = batch.open(prompt.length + steps);
  const l = dec.eval(prompt);
  return { dec, tokens: [argmax(l)], logits: [l] };
}

function step(batch: BatchDecoder, seqs: Seq[]): void {
  const v = loaded.model.config.vocabSize;
  const out = batch.step(
    seqs.map((s) => s.dec),
    seqs.map((s) => s.tokens.at(-1)!),
  );
  seqs.forEach((s, i) => {
    const l = out.slice(i * v, (i + 1) * v);
    s.logits.push(l);
    s.tokens.push(argmax(l));
  });
}

function expectAlone(seq: Seq, prompt: number[]): void {
  const alone = greedy(loaded.model, prompt, seq.tokens.length);
  expect(seq.tokens).toEqual(alone.tokens);
  seq.logits.forEach((l, i) => expect(maxDiff(l, alone.logits[i]!)).toBeLessThan(LOGIT_TOLERANCE));
}

describe("BatchDecoder", () => {
  // 80 steps: past the packed caches' headroom of 64 positions, so they are repacked mid-way
  it.each([true, false])(
    "decodes 8 sequences in one step each, every one as it decodes alone (packed %s)",
    (packed) => {
      const batch = new BatchDecoder(loaded.model, { packedAttention: packed });
      const seqs = prompts.map((p) => join(batch, p, 80));
      for (let i = 1; i < 80; i++) step(batch, seqs);
      seqs.forEach((s, i) => {
        expect(s.dec.cache.length).toBe(prompts[i]!.length + 80 - 1);
        expectAlone(s, prompts[i]!);
      });
    },
  );

  it("lets a sequence join and another leave between steps without changing the rest", () => {
    const batch = new BatchDecoder(loaded.model);
    const a = join(batch, prompts[0]!);
    const b = join(batch, prompts[1]!);
    for (let i = 0; i < 4; i++) step(batch, [a, b]);
    const c = join(batch, prompts[2]!); // joins mid-way
    for (let i = 0; i < 3; i++) step(batch, [a, b, c]);
    batch.close(b.dec); // leaves mid-way; its slot is reused by the next to join
    const d = join(batch, prompts[3]!);
    expect(d.dec).toBe(b.dec);
    while (a.tokens.length < STEPS) step(batch, [c, a, d]); // order within a step does not matter
    expectAlone(a, prompts[0]!);
    expectAlone(c, prompts[2]!);
    expectAlone(d, prompts[3]!);
    expect(kvBytesPerToken(loaded.model)).toBe(
      loaded.model.config.layers * 2 * loaded.model.config.kvHeads * loaded.model.config.headDim * 4,
    );
  });

  it("refuses a token outside the vocabulary and a sequence twice in one step", () => {
    const batch = new BatchDecoder(loaded.model);
    const s = join(batch, prompts[0]!);
    expect(() => batch.step([s.dec], [loaded.model.config.vocabSize])).toThrow(/outside the vocabulary/);
    expect(() => batch.step([s.dec, s.dec], [1, 2])).toThrow(/twice/);
    expect(s.dec.cache.length).toBe(prompts[0]!.length); // nothing was appended
  });
});

async function collect(it: AsyncGenerator<{ text: string }, { text: string; tokens: number[]; finishReason: string }>) {
  const pieces: string[] = [];
  for (;;) {
    const step = await it.next();
    if (step.done) return { pieces: pieces.join(""), ...step.value };
    pieces.push(step.value.text);
  }
}

describe("BatchGenerator", () => {
  const settings: GenerateOptions[] = [
    { temperature: 0, maxTokens: 20 },
    { temperature: 0.8, seed: 1, maxTokens: 24 },
    { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 7, maxTokens: 16 },
    { temperature: 0, maxTokens: 30, stop: ["."] },
    { temperature: 0.7, seed: 3, repetitionPenalty: 1.3, maxTokens: 20 },
    { temperature: 0, maxTokens: 1 },
    { temperature: 0.9, seed: 11, maxTokens: 28, stop: ["he"] },
    { temperature: 0, maxTokens: 0 },
  ];

  it("gives concurrent generations with their own sampling the text each gives alone", async () => {
    const { model, tokenizer } = loaded;
    const gen = new BatchGenerator(model, tokenizer, { maxBatch: 8 });
    const batched = await Promise.all(settings.map((o, i) => collect(gen.generate(prompts[i]!, o))));
    for (const [i, o] of settings.entries()) {
      const alone = await generate(model, tokenizer, prompts[i]!, o);
      expect(batched[i]!.tokens).toEqual(alone.tokens);
      expect(batched[i]!.text).toBe(alone.text);
      expect(batched[i]!.pieces).toBe(alone.text);
      expect(batched[i]!.finishReason).toBe(alone.finishReason);
    }
    expect(batched[3]!.finishReason).toBe("stop");
    expect(gen.stats.largestBatch).toBe(6); // maxTokens 1 and 0 end at their prompt
    expect(gen.load).toEqual({ running: 0, waiting: 0 });
  });

  it("holds at most maxBatch sequences; the rest wait and join as slots free", async () => {
    const { model, tokenizer } = loaded;
    const gen = new BatchGenerator(model, tokenizer, { maxBatch: 3 });
    const lengths = [4, 9, 14, 6, 12];
    const out = await Promise.all(
      lengths.map((n, i) => collect(gen.generate(prompts[i]!, { temperature: 0, maxTokens: n }))),
    );
    out.forEach((r, i) => expect(r.tokens).toEqual(greedy(model, prompts[i]!, lengths[i]!).tokens));
    expect(gen.stats.largestBatch).toBe(3);
    const long = Array.from({ length: model.config.contextLength + 1 }, () => prompts[0]![1]!);
    const failed = collect(gen.generate(long, { maxTokens: 4 })).catch((e: unknown) => e);
    const fine = collect(gen.generate(prompts[0]!, { temperature: 0, maxTokens: 4 }));
    expect(await failed).toMatchObject({ code: "model.context_full" });
    expect((await fine).tokens).toEqual(out[0]!.tokens);
    expect(() => new BatchGenerator(model, tokenizer, { maxBatch: 0 })).toThrow(/maxBatch/);
  });

  it("evaluates a long prompt joining running sequences a chunk between two of their steps", async () => {
    const { model, tokenizer } = loaded;
    const gen = new BatchGenerator(model, tokenizer, { maxBatch: 4, prefillChunk: 16 });
    const long = Array.from({ length: 200 }, (_, i) => prompts[i % 8]![(i * 7) % prompts[i % 8]!.length]!);
    long[0] = prompts[0]![0]!; // BOS
    const events: string[] = [];
    const running = (async () => {
      const tokens: number[] = [];
      for await (const c of gen.generate(prompts[0]!, { temperature: 0, maxTokens: 60 })) {
        tokens.push(c.token);
        events.push("a");
      }
      return tokens;
    })();
    while (events.length < 2) await new Promise((r) => setImmediate(r));
    const joinedAt = events.length;
    const joining = (async () => {
      const tokens: number[] = [];
      for await (const c of gen.generate(long, { temperature: 0, maxTokens: 6 })) {
        tokens.push(c.token);
        events.push("b");
      }
      return tokens;
    })();
    const [a, b] = await Promise.all([running, joining]);
    // 200 prompt tokens in chunks of 16: 13 chunks, a step of the running sequence after each
    const before = events.slice(joinedAt, events.indexOf("b")).length;
    expect(before).toBeGreaterThanOrEqual(12);
    expect(gen.stats.prefillChunks).toBeGreaterThanOrEqual(13);
    expect(a).toEqual(greedy(model, prompts[0]!, 60).tokens);
    expect(b).toEqual(greedy(model, long, 6).tokens);
    expect(() => new BatchGenerator(model, tokenizer, { prefillChunk: 0 })).toThrow(/prefillChunk/);
  });

  it("ends an aborted or abandoned sequence alone; one joining later changes no other", async () => {
    const { model, tokenizer } = loaded;
    const gen = new BatchGenerator(model, tokenizer, { maxBatch: 4 });
    const ac = new AbortController();
    const keep = collect(gen.generate(prompts[0]!, { temperature: 0.8, seed: 5, maxTokens: 30 }));
    const aborted = gen.generate(prompts[1]!, { temperature: 0, maxTokens: 30, signal: ac.signal });
    const left = gen.generate(prompts[2]!, { temperature: 0, maxTokens: 30 });
    await aborted.next();
    await left.next();
    await left.next();
    await left.return(undefined as never); // the reader stops reading: its slot frees
    for (let i = 0; i < 3; i++) await aborted.next();
    ac.abort();
    const err = await aborted.next().catch((e: unknown) => e);
    expect((err as InfuseError).code).toBe("cancelled");
    const late = collect(gen.generate(prompts[3]!, { temperature: 0, maxTokens: 10 })); // joins mid-way
    const [k, l] = await Promise.all([keep, late]);
    expect(k.tokens).toEqual(
      (await generate(model, tokenizer, prompts[0]!, { temperature: 0.8, seed: 5, maxTokens: 30 })).tokens,
    );
    expect(l.tokens).toEqual(greedy(model, prompts[3]!, 10).tokens);
    expect(gen.load).toEqual({ running: 0, waiting: 0 });
  });

  it("ends a sequence at its EOS while the others go on (TinyStories-656K)", async () => {
    const hf = await loadLlamaFolder(fixture("models/tinystories-656k-hf"));
    const gen = new BatchGenerator(hf.model, hf.tokenizer);
    const opts = [
      { temperature: 0, maxTokens: 400 },
      { temperature: 0.8, seed: 2, maxTokens: 60 },
    ];
    const [story, other] = await Promise.all(opts.map((o) => collect(gen.generate("Once upon a time", o))));
    const alone = await Promise.all(opts.map((o) => generate(hf.model, hf.tokenizer, "Once upon a time", o)));
    expect(story!.finishReason).toBe("eos");
    expect(story!.text).toBe(alone[0]!.text);
    expect(other!.text).toBe(alone[1]!.text);
    const single = streamGenerate(hf.model, hf.tokenizer, "Once upon a time", { temperature: 0, maxTokens: 3 });
    expect((await collect(single)).tokens).toEqual(story!.tokens.slice(0, 3));
  });
});
