// The checkpointed forward's fused block graph (train/fused-block.ts) against the op-by-op block
// (model.block) on the real stories260K: the same output to f32 rounding and the same dropout draws,
// for f32 and Q4_0 bases, both RoPE layouts, padded and unpadded batches; and the checkpointed loss
// that runs it, with its gradients (backward recomputes op by op), against the unfused model.loss.
import { describe, expect, it } from "vitest";
import { loadLlama } from "../../src/models/llama/load.js";
import { LlamaModel } from "../../src/models/llama/model.js";
import { attachLora } from "../../src/models/lora/index.js";
import { noGrad, randn, Rng, Tensor } from "../../src/tensor/index.js";
import { checkpointedLoss } from "../../src/train/checkpointing.js";
import { fusedBlockBackward, fusedBlockForward } from "../../src/train/fused-block.js";
import { fixture } from "../helpers/fixtures.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let [num, den] = [0, 0];
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

async function setup(quantize: "q4_0" | undefined, layout: "interleaved" | "half") {
  const loaded = await loadLlama(MODEL, quantize ? { quantize } : {});
  const model = new LlamaModel({ ...loaded.model.config, ropeLayout: layout }, loaded.model.weights);
  const set = attachLora(model, { r: 4, alpha: 8, dropout: 0.1, targets: ["all-linear"], seed: 4 });
  const rng = new Rng(5);
  for (const ad of set.adapters.values()) ad.b.data.set(randn(rng, ad.b.size, 0.05));
  return { model, set };
}

describe("fusedBlockForward", () => {
  for (const quantize of [undefined, "q4_0"] as const) {
    for (const layout of ["interleaved", "half"] as const) {
      it(`equals model.block with the same dropout draws (${quantize ?? "f32"} base, ${layout} RoPE)`, async () => {
        const { model, set } = await setup(quantize, layout);
        const t = 40;
        const c = model.config.dim;
        const x = new Tensor(randn(new Rng(9), 2 * t * c, 1), [2, t, c]);
        // row 2 left-padded by 5: its first query rows see no key (rowKeep 0)
        const attentionMask = Int32Array.from({ length: 2 * t }, (_, i) => (i >= t && i < t + 5 ? 0 : 1));
        for (const padded of [false, true]) {
          const batch = { ids: new Int32Array(2 * t), batch: 2, ...(padded ? { attentionMask } : {}) };
          const { positions, mask } = model.attentionInputs(batch);
          for (const layer of model.weights.layers.slice(0, 2)) {
            const start = set.rng.state();
            const want = model.block(layer, x, positions, mask);
            const after = set.rng.state();
            set.rng.setState(start);
            const got = fusedBlockForward(model, layer, x, positions, mask, set.rng);
            expect(got, "the fused path applies").not.toBeNull();
            expect(got!.shape).toEqual(want.shape);
            expect(set.rng.state(), "same number of dropout draws").toEqual(after);
            expect(maxRelDiff(got!.data, want.data), `padded ${padded}`).toBeLessThan(1e-5);
          }
        }
        // no dropout outside a recorded graph (eval): no draws, and the unmasked graph
        const start = set.rng.state();
        const { positions } = model.attentionInputs({ ids: new Int32Array(2 * t), batch: 2 });
        const layer = model.weights.layers[0]!;
        const want = noGrad(() => model.block(layer, x, positions, undefined));
        const got = noGrad(() => fusedBlockForward(model, layer, x, positions, undefined, set.rng));
        expect(set.rng.state()).toEqual(start);
        expect(maxRelDiff(got!.data, want.data)).toBeLessThan(1e-5);
      });
    }
  }

  for (const quantize of [undefined, "q4_0"] as const) {
    it(`fusedBlockBackward equals model.block's backward: x's and the adapters' gradients (${quantize ?? "f32"} base)`, async () => {
      const { model, set } = await setup(quantize, "interleaved");
      const t = 40;
      const c = model.config.dim;
      const x = new Tensor(randn(new Rng(9), 2 * t * c, 1), [2, t, c]);
      const g = randn(new Rng(10), 2 * t * c, 1);
      const attentionMask = Int32Array.from({ length: 2 * t }, (_, i) => (i >= t && i < t + 5 ? 0 : 1));
      for (const padded of [false, true]) {
        const batch = { ids: new Int32Array(2 * t), batch: 2, ...(padded ? { attentionMask } : {}) };
        const { positions, mask } = model.attentionInputs(batch);
        const layer = model.weights.layers[1]!;
        const params = set.params();
        const start = set.rng.state();
        for (const p of params) p.grad = null;
        const xi = new Tensor(x.data, x.shape, true);
        model.block(layer, xi, positions, mask).backward({ grad: g });
        const want = {
          dx: xi.grad!.data,
          grads: params.map((p) => p.grad?.data.slice() ?? null),
          rng: set.rng.state(),
        };
        set.rng.setState(start);
        // adapters accumulate: one has a gradient already, which the fused backward adds to
        for (const p of params) p.grad = null;
        const first = params.findIndex((p, i) => want.grads[i] !== null);
        params[first]!.grad = new Tensor(Float32Array.from(want.grads[first]!), params[first]!.shape);
        const dx = fusedBlockBackward(model, layer, x, positions, mask, set.rng, g);
        expect(dx, "the fused path applies").not.toBeNull();
        expect(set.rng.state()).toEqual(want.rng);
        expect(maxRelDiff(dx!, want.dx), `dx, padded ${padded}`).toBeLessThan(1e-4);
        params.forEach((p, i) => {
          const w = want.grads[i];
          if (!w) return expect(p.grad, `param ${i} has no gradient`).toBeNull();
          const expected = i === first ? w.map((v) => 2 * v) : w;
          expect(maxRelDiff(p.grad!.data, expected), `param ${i}, padded ${padded}`).toBeLessThan(1e-4);
        });
      }
    });
  }

  it("gives checkpointedLoss the unfused loss and adapter gradients (Q4_0 base, padded batch)", async () => {
    const { model, set } = await setup("q4_0", "interleaved");
    const t = 48;
    const ids = Int32Array.from({ length: 2 * t }, (_, i) => (i * 37 + 11) % 500);
    const labels = Int32Array.from(ids, (_, i) => (i % t < t - 1 ? ids[i + 1]! : -100));
    const attentionMask = Int32Array.from({ length: 2 * t }, (_, i) => (i >= t && i < t + 3 ? 0 : 1));
    const batch = { ids, labels, batch: 2, attentionMask };
    const start = set.rng.state();
    const run = (ckpt: boolean) => {
      set.rng.setState(start);
      for (const p of set.params()) p.grad = null;
      const l = ckpt ? checkpointedLoss(model, batch, set.rng) : model.loss(batch);
      l.backward();
      return { value: l.item(), grads: set.params().map((p) => p.grad!.data.slice()), rng: set.rng.state() };
    };
    const want = run(false);
    const got = run(true);
    expect(got.value).toBeCloseTo(want.value, 5);
    expect(got.rng).toEqual(want.rng);
    got.grads.forEach((g, i) => expect(maxRelDiff(g, want.grads[i]!), `param ${i}`).toBeLessThan(1e-3));
  });
});
