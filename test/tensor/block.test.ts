// End to end through the ops a LoRA step uses: a tiny Llama-shaped block on frozen Q4_0 weights
// with rank-2 adapters, checked against finite differences, and a few AdamW steps lowering its loss.
import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { add, mul } from "../../src/tensor/ops/elementwise.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { permute, reshape } from "../../src/tensor/ops/layout.js";
import { rmsNorm } from "../../src/tensor/ops/norm.js";
import { silu } from "../../src/tensor/ops/activation.js";
import { rope } from "../../src/tensor/ops/rope.js";
import { attention, paddingMask } from "../../src/tensor/ops/attention.js";
import { crossEntropy } from "../../src/tensor/ops/softmax.js";
import { quantize, type QuantTensor } from "../../src/tensor/quant/formats.js";
import { qmatmul } from "../../src/tensor/quant/qmatmul.js";
import { AdamW } from "../../src/tensor/optim/adamw.js";
import { Rng, randn } from "../../src/tensor/rng.js";
import { expectGrads } from "./helpers.js";

const [B, T, D, H, HKV, F, V, R] = [2, 3, 32, 4, 2, 64, 32, 2];
const HD = D / H;
const rng = new Rng(11);
const frozen = (n: number, k: number): QuantTensor => quantize("q4_0", randn(rng, n * k, 0.3), [n, k]);
const w = { q: frozen(D, D), k: frozen(HKV * HD, D), v: frozen(HKV * HD, D), o: frozen(D, D) };
const mlp = { gate: frozen(F, D), up: frozen(F, D), down: frozen(D, F), head: frozen(V, D) };
const norm = new Tensor(
  randn(rng, D, 0.1).map((v) => v + 1),
  [D],
);
const x = new Tensor(randn(rng, B * T * D), [B, T, D]);
const targets = Int32Array.from([3, 7, -100, 1, -100, 30]); // prompt tokens masked with −100
const mask = paddingMask(Int32Array.from([1, 1, 1, 0, 1, 1]), B, T); // sequence 2 is left-padded
const pos = Int32Array.from([0, 1, 2, 0, 0, 1]);

function loss([qa, qb, va, vb]: Tensor[]): Tensor {
  const lora = (h: Tensor, base: QuantTensor, a?: Tensor, b?: Tensor) => {
    const y = qmatmul(h, base); // (B, T, N)
    return a && b ? add(y, matmul(matmul(h, a, { transB: true }), b, { transB: true })) : y;
  };
  const heads = (t: Tensor, n: number) => permute(reshape(t, [B, T, n, HD]), [0, 2, 1, 3]); // (B, n, T, HD)
  const h = rmsNorm(x, norm);
  const q = rope(heads(lora(h, w.q, qa, qb), H), pos, { layout: "interleaved" });
  const k = rope(heads(lora(h, w.k), HKV), pos, { layout: "interleaved" });
  const v = heads(lora(h, w.v, va, vb), HKV);
  const att = reshape(permute(attention(q, k, v, { causal: true, mask }), [0, 2, 1, 3]), [B, T, D]);
  const x1 = add(x, lora(att, w.o));
  const h2 = rmsNorm(x1, norm);
  const x2 = add(x1, lora(mul(silu(lora(h2, mlp.gate)), lora(h2, mlp.up)), mlp.down));
  return crossEntropy(lora(rmsNorm(x2, norm), mlp.head), targets);
}

const adapters = (): Tensor[] => [
  new Tensor(randn(rng, R * D, 0.3), [R, D], true),
  new Tensor(randn(rng, D * R, 0.3), [D, R], true),
  new Tensor(randn(rng, R * D, 0.3), [R, D], true),
  new Tensor(randn(rng, HKV * HD * R, 0.3), [HKV * HD, R], true),
];

describe("a tiny LoRA decoder block", () => {
  it("adapter gradients match finite differences through every op", () => {
    expectGrads((ps) => loss(ps), adapters(), { eps: 1e-2, rtol: 2e-2 });
  });

  it("AdamW on the adapters lowers the loss while the base stays frozen", () => {
    const ps = adapters();
    const baseBytes = w.q.bytes.slice();
    const opt = new AdamW(ps, { lr: 0.05, weightDecay: 0 });
    const first = loss(ps).item();
    let last = first;
    for (let i = 0; i < 15; i++) {
      opt.zeroGrad();
      const l = loss(ps);
      l.backward();
      opt.step();
      last = l.item();
    }
    expect(last).toBeLessThan(first * 0.8);
    expect(Buffer.from(w.q.bytes).equals(Buffer.from(baseBytes))).toBe(true);
  });
});
