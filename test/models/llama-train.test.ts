// The training forward on stories260K: padded batches (left and right) give each sequence's own logits,
// the loss skips −100 labels, and an adapter on the linear layers gets the gradient finite differences give.
import { beforeAll, describe, expect, it } from "vitest";
import type { LinearAdapter } from "../../src/models/linear.js";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlamaGguf } from "../../src/models/llama/load.js";
import type { LlamaModel } from "../../src/models/llama/model.js";
import { crossEntropy, matmul, noGrad, reshape, Rng, randn, Tensor } from "../../src/tensor/index.js";
import { fixture } from "../helpers/fixtures.js";
import { maxAbsDiff } from "./oracle.js";

let model: LlamaModel;
let a: number[];
let b: number[];
const PAD = 0;

beforeAll(async () => {
  const loaded = await loadLlamaGguf(fixture("models/stories260K-gguf/stories260K.gguf"));
  model = loaded.model;
  a = loaded.tokenizer.encode("The cat sat on the warm mat and slept.");
  b = loaded.tokenizer.encode("A dog ran.");
});

/** A low-rank adapter x·Aᵀ·Bᵀ, as LoRA adds it. */
class LowRank implements LinearAdapter {
  constructor(
    readonly a: Tensor,
    readonly b: Tensor,
  ) {}
  forward(x: Tensor): Tensor {
    return matmul(matmul(x, this.a, { transB: true }), this.b, { transB: true });
  }
}

function logitsOf(ids: number[]): Float32Array {
  return noGrad(() => model.forward({ ids: Int32Array.from(ids), batch: 1 })).data;
}

describe("training forward", () => {
  it("gives each sequence of a left- or right-padded batch its own logits", () => {
    const v = model.config.vocabSize;
    const t = a.length;
    const pad = t - b.length;
    const alone = logitsOf(b);
    for (const side of ["right", "left"] as const) {
      const bRow = side === "right" ? [...b, ...Array<number>(pad).fill(PAD)] : [...Array<number>(pad).fill(PAD), ...b];
      const mask = Int32Array.from([
        ...a.map(() => 1),
        ...bRow.map((_, i) => ((side === "right" ? i < b.length : i >= pad) ? 1 : 0)),
      ]);
      const out = noGrad(() => model.forward({ ids: Int32Array.from([...a, ...bRow]), batch: 2, attentionMask: mask }));
      expect(out.shape).toEqual([2, t, v]);
      expect(maxAbsDiff(out.data.subarray(0, t * v), logitsOf(a))).toBeLessThan(1e-4);
      const start = side === "right" ? t : t + pad;
      expect(maxAbsDiff(out.data.subarray(start * v, (start + b.length) * v), alone)).toBeLessThan(1e-4);
    }
  });

  it("averages the loss over labels that are not −100", () => {
    const t = a.length;
    const bRow = [...b, ...Array<number>(t - b.length).fill(PAD)];
    const labels = Int32Array.from([
      ...a.slice(1).map((id, i) => (i < 3 ? -100 : id)), // first three targets masked, as a prompt would be
      -100,
      ...bRow.slice(1).map((id, i) => (i + 1 < b.length ? id : -100)),
      -100,
    ]);
    const mask = Int32Array.from([...a.map(() => 1), ...bRow.map((_, i) => (i < b.length ? 1 : 0))]);
    const loss = noGrad(() =>
      model.loss({ ids: Int32Array.from([...a, ...bRow]), batch: 2, attentionMask: mask, labels }),
    );
    const v = model.config.vocabSize;
    const nll = (ids: number[], from: number): number[] => {
      const l = new Tensor(logitsOf(ids), [ids.length, v]);
      return ids
        .slice(from + 1)
        .map((target, i) =>
          crossEntropy(
            reshape(l, [ids.length, v]),
            Int32Array.from(ids.map((_, j) => (j === from + i ? target : -100))),
          ).item(),
        );
    };
    const terms = [...nll(a, 3), ...nll(b, 0)];
    expect(loss.item()).toBeCloseTo(terms.reduce((p, q) => p + q, 0) / terms.length, 4);
  });

  it("trains an adapter on attn_q and ffn_down: gradients match finite differences, base weights stay frozen", () => {
    const rng = new Rng(3);
    const adapters: LowRank[] = [];
    for (const name of ["blk.1.attn_q", "blk.3.ffn_down"]) {
      const lin = model.linears().get(name)!;
      const r = 2;
      const ad = new LowRank(
        new Tensor(randn(rng, r * lin.inFeatures, 0.1), [r, lin.inFeatures], true),
        new Tensor(randn(rng, lin.outFeatures * r, 0.1), [lin.outFeatures, r], true),
      );
      lin.adapter = ad;
      adapters.push(ad);
    }
    try {
      const ids = Int32Array.from(a);
      const labels = Int32Array.from([...a.slice(1), -100]);
      const loss = model.loss({ ids, batch: 1, labels });
      loss.backward();
      const params = adapters.flatMap((ad) => [ad.a, ad.b]);
      const grads = params.map((p) => p.grad!.data.slice());
      const base = model.weights.layers[1]!.q.weight as Tensor;
      expect(base.requiresGrad).toBe(false);
      expect(base.grad).toBeNull();
      // Directional derivative along the gradient: (L(p + εu) − L(p − εu)) / 2ε = |g|.
      const norm = Math.sqrt(grads.reduce((s, g) => s + g.reduce((t, x) => t + x * x, 0), 0));
      const eps = 1e-2;
      const shift = (sign: number): void =>
        params.forEach((p, i) => grads[i]!.forEach((g, j) => (p.data[j]! += (sign * eps * g) / norm)));
      const lossAt = (): number => noGrad(() => model.loss({ ids, batch: 1, labels }).item());
      shift(1);
      const up = lossAt();
      shift(-2);
      const down = lossAt();
      shift(1);
      expect(norm).toBeGreaterThan(0.01);
      expect(Math.abs((up - down) / (2 * eps) / norm - 1)).toBeLessThan(0.02);
      // The cached decoder applies the adapters too.
      const dec = new LlamaDecoder(model);
      const v = model.config.vocabSize;
      expect(maxAbsDiff(dec.eval(a), logitsOf(a).subarray((a.length - 1) * v))).toBeLessThan(1e-4);
    } finally {
      for (const lin of model.linears().values()) lin.adapter = null;
    }
  });
});
