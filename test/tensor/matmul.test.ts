import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { matmulKernel, matmulPathFor, setMatmulPath, type MatmulDims } from "../../src/tensor/kernels/kernel.js";
import { referenceMatmul } from "../../src/tensor/kernels/reference.js";
import { ortAvailable, ortMatmul } from "../../src/tensor/kernels/ort.js";
import { Rng, randn } from "../../src/tensor/rng.js";
import { expectGrads, maxRelDiff, rand } from "./helpers.js";

const rng = new Rng(99);
const flags = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

describe("matmul kernels agree", () => {
  it("onnxruntime loads on this machine", () => {
    expect(ortAvailable()).toBe(true);
  });

  it.each(flags)("ort and reference agree to 1e-5 relative (transA=%s, transB=%s)", (transA, transB) => {
    for (const [batch, m, k, n, bBatched] of [
      [1, 37, 61, 45, true],
      [3, 16, 33, 20, true],
      [4, 9, 17, 11, false],
    ] as const) {
      const dims: MatmulDims = { batch, m, k, n, transA, transB, bBatched };
      const a = randn(rng, batch * m * k);
      const b = randn(rng, (bBatched ? batch : 1) * k * n);
      const ref = new Float32Array(batch * m * n);
      const fast = new Float32Array(batch * m * n);
      referenceMatmul(a, b, ref, dims);
      ortMatmul(a, b, fast, dims);
      expect(maxRelDiff(fast, ref)).toBeLessThan(1e-5);
    }
  });

  it("reference kernel matches a hand-computed product", () => {
    const out = new Float32Array(4);
    referenceMatmul(Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), out, {
      batch: 1,
      m: 2,
      k: 2,
      n: 2,
      transA: false,
      transB: false,
      bBatched: true,
    });
    expect(Array.from(out)).toEqual([19, 22, 43, 50]);
  });

  it("dispatches small products to TypeScript and large ones to ort", () => {
    const small: MatmulDims = { batch: 1, m: 4, k: 4, n: 4, transA: false, transB: false, bBatched: true };
    expect(matmulPathFor(small)).toBe("reference");
    expect(matmulPathFor({ ...small, m: 256, k: 256, n: 256 })).toBe("ort");
    const out = new Float32Array(16);
    matmulKernel(new Float32Array(16).fill(1), new Float32Array(16).fill(2), out, small);
    expect(out[0]).toBe(8);
  });
});

describe("matmul op", () => {
  it("raises shape_mismatch naming the op and shapes", () => {
    expect(() => matmul(rand([2, 3]), rand([4, 5]))).toThrow(/matmul: inner dims 3 and 4.*\(2, 3\), \(4, 5\)/);
    expect(() => matmul(rand([2, 2, 3]), rand([3, 3, 4]))).toThrow(/matmul/);
  });

  it.each(["reference", "ort"] as const)("gradients with transposes, batches and a shared B (%s path)", (path) => {
    setMatmulPath(path);
    try {
      for (const [transA, transB] of flags) {
        const aShape = (lead: number[], m: number, k: number) => (transA ? [...lead, k, m] : [...lead, m, k]);
        const bShape = (lead: number[], k: number, n: number) => (transB ? [...lead, n, k] : [...lead, k, n]);
        const opts = { transA, transB };
        expectGrads(([a, b]) => matmul(a!, b!, opts), [rand(aShape([], 3, 4)), rand(bShape([], 4, 5))]);
        expectGrads(([a, b]) => matmul(a!, b!, opts), [rand(aShape([2], 3, 4)), rand(bShape([2], 4, 2))]);
        expectGrads(([a, b]) => matmul(a!, b!, opts), [rand(aShape([2, 2], 3, 4)), rand(bShape([], 4, 2))]);
      }
    } finally {
      setMatmulPath("auto");
    }
  });

  it("handles empty products (no rows, or K = 0 giving zeros)", () => {
    expect(matmul(Tensor.zeros([0, 3]), rand([3, 2])).shape).toEqual([0, 2]);
    const out = matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]));
    expect(out.toArray()).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("computes x·Wᵀ for a (N, K) weight as linear layers store it", () => {
    const x = Tensor.from([1, 2], [1, 2]);
    const w = Tensor.from([1, 0, 0, 1, 1, 1], [3, 2]);
    expect(matmul(x, w, { transB: true }).toArray()).toEqual([1, 2, 3]);
  });
});
