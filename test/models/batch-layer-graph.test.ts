// The layer graphs (layer-graph.ts) over B sequences through BatchDecoder against each sequence decoded
// alone (LlamaDecoder, the same graphs at B = 1): F32 (fed weights, both RoPE layouts, grouped-query
// attention) and Q8_0/Q4_0 (MatMulNBits over q|k|v and gate|up stacked), prompts of different lengths
// (F32: one over three prompt chunks) evaluated by each sequence's decoder, then batched steps; the
// per-linear path without the graphs.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { GgmlType } from "../../src/formats/gguf/index.js";
import { BatchDecoder } from "../../src/models/llama/batch-decode.js";
import { LayerGraphs } from "../../src/models/llama/layer-graph.js";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlama, loadLlamaGguf } from "../../src/models/llama/load.js";
import type { LlamaModel } from "../../src/models/llama/model.js";
import { argmax } from "../../src/models/sampling.js";
import type { QuantTensor } from "../../src/tensor/quant/formats.js";
import { rewriteGguf } from "./gguf-rewrite.js";
import { writeTinyHfModel, writeTinyLlamaF32Gguf } from "./tiny-decoders.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-batch-graph-"));
let f32Path: string;
beforeAll(async () => {
  f32Path = await writeTinyLlamaF32Gguf(tmp);
});

const STEPS = 6;
const tokens = (lengths: number[]): number[][] =>
  lengths.map((n, s) => Array.from({ length: n }, (_, i) => 1 + ((i * 37 + s * 101) % 500)));
const longPrompts = tokens([40, 7, 300, 1]);
const shortPrompts = tokens([40, 7, 90, 1]);

/** Logits of each prompt's last token, then of STEPS greedy steps: all sequences in one batch. */
function batched(model: LlamaModel, prompts: number[][], promptChunk?: number): Float32Array[][] {
  const batch = new BatchDecoder(model, promptChunk ? { promptChunk } : {});
  const v = model.config.vocabSize;
  const decs = prompts.map((p) => batch.open(p.length + STEPS));
  const out = decs.map((d, i) => [d.eval(prompts[i]!)]);
  for (let s = 0; s < STEPS; s++) {
    const logits = batch.step(
      decs,
      out.map((o) => argmax(o.at(-1)!)),
    );
    out.forEach((o, i) => o.push(logits.slice(i * v, (i + 1) * v)));
  }
  return out;
}

/** The same, each sequence alone through LlamaDecoder. */
function alone(model: LlamaModel, prompts: number[][]): Float32Array[][] {
  return prompts.map((p) => {
    const dec = new LlamaDecoder(model);
    const out = [dec.eval(p)];
    for (let s = 0; s < STEPS; s++) out.push(dec.eval([argmax(out.at(-1)!)]));
    return out;
  });
}

function maxDiff(a: Float32Array[][], b: Float32Array[][]): number {
  let m = 0;
  a.forEach((seq, i) => seq.forEach((x, j) => x.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i]![j]![k]!))))));
  return m;
}

describe("batched layer graphs", () => {
  it("F32, interleaved RoPE (GGUF): every sequence's logits as alone, to f32 rounding", async () => {
    const { model } = await loadLlamaGguf(f32Path);
    expect(LayerGraphs.for(model)).not.toBeNull();
    expect(maxDiff(batched(model, longPrompts, 128), alone(model, longPrompts))).toBeLessThan(1e-4);
  });

  it("without the graphs (INFUSE_LAYER_GRAPHS=0): per-linear kernels and packed attention, the same logits", async () => {
    const { model } = await loadLlamaGguf(f32Path);
    process.env["INFUSE_LAYER_GRAPHS"] = "0";
    try {
      expect(LayerGraphs.for(model)).toBeNull();
      expect(maxDiff(batched(model, longPrompts), alone(model, longPrompts))).toBeLessThan(1e-4);
    } finally {
      delete process.env["INFUSE_LAYER_GRAPHS"];
    }
  });

  it("F32, half RoPE and grouped-query attention (HF folder)", async () => {
    const dir = await writeTinyHfModel(path.join(tmp, "mistral"), { modelType: "mistral", heads: 8, kvHeads: 2 });
    const { model } = await loadLlama(dir);
    expect(model.config.ropeLayout).toBe("half");
    expect(LayerGraphs.for(model)).not.toBeNull();
    expect(maxDiff(batched(model, longPrompts, 128), alone(model, longPrompts))).toBeLessThan(1e-4);
  });

  // Both quantize each row's activations to int8 per block, so a row's result does not depend on the
  // rows beside it. But an activation that lands on the other side of an int8 rounding step moves the
  // logits by a step's worth: caches of other capacities (the batch reserves exactly, a decoder alone by
  // doubling) sum the attention in another order, and the largest difference read 0.021 (Q4_0) and
  // 0.019 (Q8_0) on logits up to 2.5. The bound is 2% of the largest logit, as layer-graph.ts's own
  // test allows against the per-op path.
  const bound = (logits: Float32Array[][]): number =>
    0.02 * Math.max(...logits.flat().map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  for (const [label, type] of [
    ["Q8_0", GgmlType.Q8_0],
    ["Q4_0", GgmlType.Q4_0],
  ] as const) {
    it(`${label}: stacked MatMulNBits weights, every sequence's logits as alone`, async () => {
      const file = await rewriteGguf(f32Path, path.join(tmp, `${label}.gguf`), { matrixType: type });
      const { model } = await loadLlamaGguf(file);
      expect(LayerGraphs.for(model)).not.toBeNull();
      const got = batched(model, shortPrompts);
      // The batch's graphs hold the weights: the file's bytes are given back.
      const q = model.weights.layers[0]!.q.weight as QuantTensor;
      expect(q.resident).toBe(false);
      const want = alone(model, shortPrompts);
      expect(maxDiff(got, want)).toBeLessThan(bound(want));
    });
  }
});
