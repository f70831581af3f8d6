import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { crossEntropy, logSoftmax, softmax } from "../../src/tensor/ops/softmax.js";
import { layerNorm, rmsNorm } from "../../src/tensor/ops/norm.js";
import { erf, gelu, silu, sigmoid } from "../../src/tensor/ops/activation.js";
import { dropout } from "../../src/tensor/ops/dropout.js";
import { Rng } from "../../src/tensor/rng.js";
import { expectGrads, rand } from "./helpers.js";

describe("softmax family", () => {
  it("is stable for large logits and handles fully masked rows", () => {
    const y = softmax(Tensor.from([1000, 1001, -Infinity, -Infinity, -Infinity, -Infinity], [2, 3]));
    expect(y.data[0]! + y.data[1]!).toBeCloseTo(1, 6);
    expect(y.data[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(Array.from(y.data.subarray(3))).toEqual([0, 0, 0]);
    const ls = logSoftmax(Tensor.from([1000, 1000], [2]));
    expect(ls.data[0]).toBeCloseTo(-Math.log(2), 6);
  });

  it("gradients along the last and a middle axis", () => {
    expectGrads(([x]) => softmax(x!, -1), [rand([2, 3, 5])]);
    expectGrads(([x]) => softmax(x!, 1), [rand([2, 3, 5])]);
    expectGrads(([x]) => logSoftmax(x!, -1), [rand([3, 6])]);
    expectGrads(([x]) => logSoftmax(x!, 0), [rand([3, 6])]);
  });

  it("cross-entropy equals −mean log p[target] over rows not ignored", () => {
    const logits = rand([4, 7], false);
    const targets = Int32Array.from([3, -100, 0, 6]);
    const lp = logSoftmax(logits).data;
    const expected = -(lp[0 * 7 + 3]! + lp[2 * 7 + 0]! + lp[3 * 7 + 6]!) / 3;
    expect(crossEntropy(logits, targets).item()).toBeCloseTo(expected, 5);
    expect(crossEntropy(logits, targets, { reduction: "sum" }).item()).toBeCloseTo(expected * 3, 4);
    expectGrads(([x]) => crossEntropy(x!, targets), [rand([4, 7])]);
    expectGrads(([x]) => crossEntropy(x!, Int32Array.from([1, 1, 2, 0, 4, 3]), { ignoreIndex: 1 }), [rand([2, 3, 5])]);
  });

  it("cross-entropy with every target ignored is 0 with zero gradient; bad targets name the row", () => {
    const x = rand([2, 3]);
    const loss = crossEntropy(x, Int32Array.from([-100, -100]));
    expect(loss.item()).toBe(0);
    loss.backward();
    expect(x.grad?.toArray().every((v) => v === 0)).toBe(true);
    expect(() => crossEntropy(x, Int32Array.from([0, 3]))).toThrow(/target 3 at row 1 is outside \[0, 3\)/);
    expect(() => crossEntropy(x, Int32Array.from([0]))).toThrow(/1 targets for 2 rows/);
  });
});

describe("normalisation", () => {
  it("rmsNorm output has unit RMS before the weight; gradients for x and weight", () => {
    const x = rand([3, 8], false);
    const y = rmsNorm(x, Tensor.full([8], 1), 0);
    for (let r = 0; r < 3; r++) {
      let ss = 0;
      for (let j = 0; j < 8; j++) ss += y.data[r * 8 + j]! ** 2;
      expect(ss / 8).toBeCloseTo(1, 5);
    }
    expectGrads(([a, w]) => rmsNorm(a!, w!, 1e-5), [rand([2, 3, 6]), rand([6])]);
  });

  it("layerNorm rows have mean 0 and variance 1; gradients for x, weight and bias", () => {
    const y = layerNorm(rand([2, 10], false), Tensor.full([10], 1), null, 0);
    let mu = 0;
    for (let j = 0; j < 10; j++) mu += y.data[j]!;
    expect(mu / 10).toBeCloseTo(0, 5);
    expectGrads(([a, w, b]) => layerNorm(a!, w!, b!, 1e-5), [rand([3, 5]), rand([5]), rand([5])]);
    expect(() => layerNorm(rand([2, 4]), rand([5]), null)).toThrow(/layerNorm: weight must be \(4\).*\(2, 4\), \(5\)/);
  });
});

describe("activations", () => {
  it("erf, GELU and SiLU values", () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 7);
    expect(erf(-1.5)).toBeCloseTo(-0.9661051464753108, 7);
    const x = Tensor.from([-1, 0, 2], [3]);
    expect(gelu(x, "erf").data[2]).toBeCloseTo(1 + 0.9544997361036416, 5); // 2·Φ(2) = 1 + erf(√2);
    expect(gelu(x, "tanh").data[0]).toBeCloseTo(-0.15880800939172324, 5);
    expect(silu(x).data[2]).toBeCloseTo(2 / (1 + Math.exp(-2)), 6);
  });

  it("gradients", () => {
    expectGrads(([a]) => gelu(a!, "erf"), [rand([10])]);
    expectGrads(([a]) => gelu(a!, "tanh"), [rand([10])]);
    expectGrads(([a]) => silu(a!), [rand([10])]);
    expectGrads(([a]) => sigmoid(a!), [rand([10])]);
  });
});

describe("dropout", () => {
  it("is reproducible from a seed, keeps the mean, and masks the gradient alike", () => {
    const x = Tensor.full([10000], 1, true);
    const a = dropout(x, 0.25, new Rng(3));
    const b = dropout(x, 0.25, new Rng(3));
    expect(a.toArray()).toEqual(b.toArray());
    const zeros = a.toArray().filter((v) => v === 0).length;
    expect(zeros / 10000).toBeGreaterThan(0.22);
    expect(zeros / 10000).toBeLessThan(0.28);
    a.backward({ grad: new Float32Array(10000).fill(1) });
    expect(x.grad?.toArray()).toEqual(a.toArray());
    expect(dropout(x, 0.5, new Rng(1), false)).toBe(x);
    expect(() => dropout(x, 1, new Rng(1))).toThrow(/dropout: p = 1/);
  });

  it("draws its mask from the RNG exactly as uniform() would (checkpoints resume the same stream)", () => {
    const [a, b] = [new Rng(9), new Rng(9)];
    const mask = new Float32Array(5000);
    a.fillDropoutMask(mask, 0.1, 2);
    const expected = Float32Array.from({ length: 5000 }, () => (b.uniform() >= 0.1 ? 2 : 0));
    expect(mask).toEqual(expected);
    expect(a.state()).toEqual(b.state());
  });
});
