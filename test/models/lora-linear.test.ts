// A Linear with a LoRA adapter on an f32 weight runs as one lowRankLinear op: same output and adapter
// gradients as the product plus the adapter's own forward (with a bias, with dropout), and the frozen
// weight gets no gradient.
import { describe, expect, it } from "vitest";
import { Linear } from "../../src/models/linear.js";
import { LoraAdapter } from "../../src/models/lora/adapter.js";
import { add, matmul, Rng, Tensor } from "../../src/tensor/index.js";
import { maxRelDiff, rand } from "../tensor/helpers.js";

const [weight, biasValues, bValues] = [rand([6, 5], false), rand([6], false), rand([6, 2], false)];

function layer(dropout: number, bias: boolean) {
  const lin = new Linear("blk.0.attn_q", weight, bias ? biasValues : null);
  const lora = new LoraAdapter(5, 6, { r: 2, alpha: 4, dropout }, new Rng(9));
  lora.b.data.set(bValues.data); // B starts at zero; make the delta visible
  lin.adapter = lora;
  return { lin, lora };
}

/** Output and A/B gradients, fused (lin.forward) or unfused (product + bias + adapter.forward). */
function run(dropout: number, bias: boolean, fused: boolean, x: Tensor, seed: Float32Array) {
  const { lin, lora } = layer(dropout, bias);
  const xi = new Tensor(x.data, x.shape, true);
  let y: Tensor;
  if (fused) y = lin.forward(xi);
  else {
    y = matmul(xi, lin.weight as Tensor, { transB: true });
    if (lin.bias) y = add(y, lin.bias);
    y = add(y, lora.forward(xi));
  }
  y.backward({ grad: seed });
  expect((lin.weight as Tensor).grad).toBeNull();
  return [y.data, xi.grad!.data, lora.a.grad!.data, lora.b.grad!.data];
}

describe("Linear with a LoRA adapter", () => {
  it("the fused op equals product + adapter (bias, dropout), output and gradients", () => {
    const x = rand([3, 4, 5], false);
    const seed = rand([3, 4, 6], false).data;
    for (const [dropout, bias] of [
      [0, false],
      [0, true],
      [0.25, true],
    ] as const) {
      const want = run(dropout, bias, false, x, seed);
      const got = run(dropout, bias, true, x, seed);
      want.forEach((w, i) =>
        expect(maxRelDiff(got[i]!, w), `dropout ${dropout} bias ${bias} #${i}`).toBeLessThan(1e-5),
      );
    }
  });
});
