// tuneEmbedder() end to end on the tiny encoder: an aborted run resumed from its checkpoint writes
// a byte-identical tuned model, the model folder embeds through the engine embedder (`engine:DIR`)
// as the trained encoder does, and LoRA runs write the adapters merged.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { loadBert } from "../../src/models/bert/index.js";
import type { Tensor } from "../../src/tensor/index.js";
import { createEmbedder } from "../../src/rag/embed/index.js";
import { noGrad } from "../../src/tensor/index.js";
import { TextEncoder } from "../../src/train/embed/encode.js";
import { tuneEmbedder } from "../../src/train/embed/tune.js";
import { resolveEmbedTuneOptions, type EmbedTuneOptions } from "../../src/train/embed/options.js";
import { tinyBert } from "./embed-helpers.js";
import { synthPairs, writePairs } from "./embed-pairs.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("infuse-embed-tune-");
const pairs = writePairs(path.join(dir, "pairs.jsonl"), synthPairs(12, 5));

const options = async (out: string, extra: Partial<EmbedTuneOptions> = {}): Promise<EmbedTuneOptions> => ({
  model: await tinyBert(),
  data: [pairs],
  out: path.join(dir, out),
  batchSize: 4,
  groupSize: 3,
  queryMaxLength: 16,
  passageMaxLength: 16,
  maxSteps: 5,
  lr: 2e-3,
  valFraction: 0.2,
  evalEvery: 2,
  seed: 4,
  ...extra,
});
const weights = (out: string) => readFileSync(path.join(dir, out, "model", "model.safetensors"));

describe("tuneEmbedder", () => {
  it("refuses LoRA dropout with GradCache or workers (the second encoding would draw other masks)", async () => {
    const lora = { lora: true, dropout: 0.1 } as const;
    for (const extra of [{ gradCacheChunk: 4 }, { workers: 2 }]) {
      await expect(tuneEmbedder(await options("refused", { ...lora, ...extra }))).rejects.toMatchObject({
        code: "train.bad_option",
        details: { flag: "--dropout" },
      });
    }
    expect(() => resolveEmbedTuneOptions({ model: "m", data: ["d"], out: "o", ...lora })).not.toThrow();
  });

  it("resumes an aborted run to a byte-identical tuned model", async () => {
    const straight = await tuneEmbedder(await options("straight"));
    expect(straight.steps).toBe(5);
    const ctl = new AbortController();
    const cut = tuneEmbedder(await options("cut"), {
      signal: ctl.signal,
      onMetric: (m) => m.step === 3 && ctl.abort(),
    });
    await expect(cut).rejects.toMatchObject({ code: "cancelled" });
    const resumed = await tuneEmbedder(await options("cut", { resume: true }));
    expect(resumed.steps).toBe(2);
    expect(weights("cut").equals(weights("straight"))).toBe(true);
  }, 60_000);

  it("writes a folder the engine embedder loads, embedding as the tuned encoder does", async () => {
    const r = await tuneEmbedder(await options("engine", { maxSteps: 2, evalEvery: 0 }));
    const config = await loadConfig({ cwd: dir, env: { INFUSE_HOME: path.join(dir, "home") } });
    const embedder = await createEmbedder(`engine:${r.modelDir}`, { config });
    const texts = ["tell me about apple", "river mountain"];
    const got = await embedder.embedPassages(texts);
    const { model, tokenizer } = await loadBert(r.modelDir);
    const want = noGrad(() =>
      new TextEncoder(model, tokenizer, { pooling: "mean", normalize: true }).embed(texts, 512),
    );
    got.forEach((v, i) => v.forEach((x, c) => expect(x).toBeCloseTo(want.data[i * 32 + c]!, 5)));
    const start = await loadBert(await tinyBert());
    const before = noGrad(() =>
      new TextEncoder(start.model, start.tokenizer, { pooling: "mean", normalize: true }).embed(texts, 512),
    );
    expect(Math.max(...want.data.map((v, i) => Math.abs(v - before.data[i]!)))).toBeGreaterThan(1e-3); // it moved
  }, 60_000);

  it("with --lora writes the encoder with the adapters merged in", async () => {
    const r = await tuneEmbedder(await options("lora", { lora: true, rank: 4, lr: 5e-2, maxSteps: 3, evalEvery: 0 }));
    expect(r.trainableParams).toBe(3 * 2 * 4 * 32); // attn_q, attn_k, attn_v: A (4×32) and B (32×4)
    const tuned = await loadBert(r.modelDir);
    const start = await loadBert(await tinyBert());
    const w = (m: typeof tuned, name: string) => (m.model.linears().get(name)!.weight as Tensor).data;
    const q = (m: typeof tuned) => w(m, "blk.0.attn_q");
    const up = (m: typeof tuned) => w(m, "blk.0.ffn_up");
    expect(q(tuned)).not.toEqual(q(start));
    expect(up(tuned)).toEqual(up(start)); // not a target: as loaded
  }, 60_000);
});
