// The encoder's fused block (Q/K/V as one product, packed attention with the key-padding mask, biases
// and GELU inside the products) against the unfused block it replaces: the same hidden states and the
// same gradient on every parameter, on a padded batch, with the TypeScript and the onnxruntime kernels.
// A zero-B LoRA adapter on q (which changes nothing) makes a block take the unfused path.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeTexts, loadBertGguf, type LoadedBert } from "../../src/models/bert/index.js";
import { LoraAdapter } from "../../src/models/lora/index.js";
import { mul, Rng, randn, setMatmulPath, sum, Tensor } from "../../src/tensor/index.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";

describe("fused encoder block", () => {
  let tmp: string;
  let loaded: LoadedBert;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bert-fused-"));
    loaded = await loadBertGguf(await writeTinyBertGguf(path.join(tmp, "t.gguf"), { hidden: 32, layers: 2, heads: 2 }));
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));
  afterEach(() => setMatmulPath("auto"));

  /** Hidden states and every parameter's gradient of Σ w·hidden, fused or not. */
  function run(fused: boolean): Float32Array[] {
    const { model, tokenizer } = loaded;
    const texts = ["a cat on a mat", "dogs bark loudly at night near the old harbour wall", "hi"];
    const enc = encodeTexts(tokenizer, texts, 128);
    const params = model.parameters();
    for (const p of params) [p.requiresGrad, p.grad] = [true, null];
    const rng = new Rng(5);
    for (const l of model.weights.layers) {
      l.q.adapter = fused ? null : new LoraAdapter(l.q.inFeatures, l.q.outFeatures, { r: 2, alpha: 4 }, rng);
    }
    const h = model.forward({ ids: enc.ids, batch: enc.batch, attentionMask: enc.attentionMask });
    const w = new Tensor(randn(new Rng(9), h.size), h.shape);
    // padding rows' outputs differ by design (no pooling reads them): weigh real tokens only
    for (let i = 0; i < enc.attentionMask.length; i++) if (!enc.attentionMask[i]) w.data.fill(0, i * 32, (i + 1) * 32);
    sum(mul(h, w)).backward();
    const out = [mul(h, w).data, ...params.map((p) => p.grad!.data)];
    for (const l of model.weights.layers) l.q.adapter = null;
    for (const p of params) [p.requiresGrad, p.grad] = [false, null];
    return out;
  }

  for (const kernels of ["reference", "ort"] as const) {
    it(`equals the unfused block, values and every parameter's gradient (${kernels} kernels)`, () => {
      setMatmulPath(kernels);
      const [fused, plain] = [run(true), run(false)];
      expect(fused.length).toBe(plain.length);
      for (let i = 0; i < fused.length; i++) {
        let m = 0;
        let scale = 0;
        for (let j = 0; j < fused[i]!.length; j++) {
          m = Math.max(m, Math.abs(fused[i]![j]! - plain[i]![j]!));
          scale = Math.max(scale, Math.abs(plain[i]![j]!));
        }
        expect(m, `tensor ${i}`).toBeLessThanOrEqual(1e-4 * Math.max(1, scale));
      }
    });
  }
});
