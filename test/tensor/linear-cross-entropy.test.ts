// The fused output head + cross-entropy against the unfused pair (matmul or qmatmul, then crossEntropy):
// loss and gradients to 1e-5 relative over several chunkings, finite differences, ignored rows, f32 and
// quantized heads (a vocabulary wider than one dequantized tile), and the errors it shares with crossEntropy.
// The onnxruntime chunk graphs against the TypeScript loops, each path forced (setMatmulPath).
import { afterEach, describe, expect, it } from "vitest";
import { setMatmulPath } from "../../src/tensor/kernels/kernel.js";
import { ortAvailable } from "../../src/tensor/kernels/ort.js";
import { linearCrossEntropy } from "../../src/tensor/ops/linear-cross-entropy.js";
import { crossEntropy } from "../../src/tensor/ops/softmax.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { reshape } from "../../src/tensor/ops/layout.js";
import { qmatmul } from "../../src/tensor/quant/qmatmul.js";
import { quantize, type QuantType } from "../../src/tensor/quant/formats.js";
import { noGrad, type Tensor } from "../../src/tensor/tensor.js";
import { expectGrads, maxRelDiff, rand } from "./helpers.js";

/** Loss and gradients of h (and W when it requires grad) for one loss function. */
function lossAndGrads(
  fn: () => Tensor,
  params: Tensor[],
  g = 1,
): { loss: number; grads: (Float32Array | undefined)[] } {
  for (const p of params) p.grad = null;
  const l = fn();
  l.backward({ grad: Float32Array.of(g) });
  return { loss: l.item(), grads: params.map((p) => p.grad?.data.slice()) };
}

function expectSame(a: ReturnType<typeof lossAndGrads>, b: ReturnType<typeof lossAndGrads>): void {
  expect(Math.abs(a.loss - b.loss) / Math.abs(b.loss)).toBeLessThan(1e-5);
  a.grads.forEach((g, i) => expect(maxRelDiff(g!, b.grads[i]!)).toBeLessThan(1e-5));
}

const TARGETS = Int32Array.from([3, -100, 0, 6, 6, -100, 2, 1, 5, 4, -100, 0]);

describe("linearCrossEntropy", () => {
  it("equals crossEntropy(h·Wᵀ) in loss and in h's and W's gradients, for any chunking", () => {
    const h = rand([2, 6, 16]); // (B, T, K)
    const w = rand([7, 16], true, 0.5); // (V, K)
    const unfused = lossAndGrads(
      () => crossEntropy(reshape(matmul(h, w, { transB: true }), [-1, 7]), TARGETS),
      [h, w],
      0.5,
    );
    for (const chunkRows of [1, 2, 5, 12, 100, undefined]) {
      const opts = chunkRows === undefined ? {} : { chunkRows };
      expectSame(
        lossAndGrads(() => linearCrossEntropy(h, w, TARGETS, opts), [h, w], 0.5),
        unfused,
      );
    }
    expect(linearCrossEntropy(h, w, TARGETS, { reduction: "sum" }).item()).toBeCloseTo(unfused.loss * 9, 4);
  });

  it("matches finite differences for h and W, with ignored rows", () => {
    const targets = Int32Array.from([1, -100, 4, 0, 2]);
    expectGrads(([h, w]) => linearCrossEntropy(h!, w!, targets, { chunkRows: 2 }), [rand([5, 4]), rand([6, 4])]);
    expectGrads(([h, w]) => linearCrossEntropy(h!, w!, targets), [rand([5, 4]), rand([6, 4], false)]);
  });

  it("is stable for large logits", () => {
    const h = rand([4, 8], true, 300);
    const w = rand([9, 8], false);
    const targets = Int32Array.from([0, 8, 3, 3]);
    const fused = lossAndGrads(() => linearCrossEntropy(h, w, targets, { chunkRows: 3 }), [h]);
    expect(Number.isFinite(fused.loss)).toBe(true);
    expectSame(
      fused,
      lossAndGrads(() => crossEntropy(matmul(h, w, { transB: true }), targets), [h]),
    );
  });

  for (const type of ["q8_0", "q4_0", "nf4"] as QuantType[]) {
    it(`equals crossEntropy(qmatmul(h, W)) for a ${type} head wider than one dequantized tile`, () => {
      const k = 64;
      const v = 17000; // > 2^20 / 64 rows: backward dequantizes W in two tiles
      const w = quantize(type, rand([v, k], false, 0.2).data, [v, k]);
      const h = rand([5, k]);
      const targets = Int32Array.from([16999, 3, -100, 8500, 0]);
      const unfused = lossAndGrads(() => crossEntropy(qmatmul(h, w), targets), [h]);
      expectSame(
        lossAndGrads(() => linearCrossEntropy(h, w, targets, { chunkRows: 2 }), [h]),
        unfused,
      );
    });
  }

  it("computes no gradient under noGrad, and gives 0 with zero gradient when every target is ignored", () => {
    const h = rand([3, 4]);
    const w = rand([5, 4]);
    const t = Int32Array.from([1, 2, 4]);
    const value = noGrad(() => linearCrossEntropy(h, w, t));
    expect(value.requiresGrad).toBe(false);
    expect(value.item()).toBeCloseTo(crossEntropy(matmul(h, w, { transB: true }), t).item(), 5);
    const none = linearCrossEntropy(h, w, Int32Array.from([-100, -100, -100]));
    expect(none.item()).toBe(0);
    none.backward();
    expect(h.grad!.data.every((x) => x === 0) && w.grad!.data.every((x) => x === 0)).toBe(true);
  });

  it("names a bad target's row and rejects mismatched shapes", () => {
    const h = rand([2, 4]);
    const w = rand([3, 4]);
    expect(() => linearCrossEntropy(h, w, Int32Array.from([0, 3]))).toThrow(/target 3 at row 1 is outside \[0, 3\)/);
    expect(() => linearCrossEntropy(h, w, Int32Array.from([0]))).toThrow(/one row per target/);
    expect(() => linearCrossEntropy(h, rand([3, 5]), Int32Array.from([0, 1]))).toThrow(
      /last dim must equal W's row length/,
    );
  });
});

describe.runIf(ortAvailable())("linearCrossEntropy through onnxruntime", () => {
  afterEach(() => setMatmulPath("auto"));

  /** The same call on the TypeScript path and on the ORT path. */
  function bothPaths(fn: () => Tensor, params: Tensor[], g = 1) {
    setMatmulPath("reference");
    const ref = lossAndGrads(fn, params, g);
    setMatmulPath("ort");
    const ort = lossAndGrads(fn, params, g);
    return { ref, ort };
  }

  it("equals the TypeScript path in loss, dh and dW for several chunkings, W trained or frozen", () => {
    const v = 300;
    const h = rand([3, 7, 24]);
    const targets = Int32Array.from({ length: 21 }, (_, i) => (i % 5 === 2 ? -100 : (i * 37) % v));
    for (const wGrad of [true, false]) {
      const w = rand([v, 24], wGrad, 0.3);
      const params = wGrad ? [h, w] : [h];
      for (const chunkRows of [1, 4, 7, 100, undefined]) {
        const opts = chunkRows === undefined ? {} : { chunkRows };
        const { ref, ort } = bothPaths(() => linearCrossEntropy(h, w, targets, opts), params, 0.7);
        expectSame(ort, ref);
      }
    }
    const w = rand([v, 24], true, 0.3);
    const sum = bothPaths(() => linearCrossEntropy(h, w, targets, { reduction: "sum", chunkRows: 5 }), [h, w]);
    expectSame(sum.ort, sum.ref);
    // Only W trains: the graph variant without dH.
    const hFrozen = rand([21, 24], false);
    const wOnly = bothPaths(() => linearCrossEntropy(hFrozen, w, targets, { chunkRows: 6 }), [w]);
    expectSame(wOnly.ort, wOnly.ref);
  });

  it("is stable for large logits on both paths", () => {
    const h = rand([6, 16], true, 200);
    const w = rand([50, 16], true);
    const targets = Int32Array.from([0, 49, 7, 7, 20, 3]);
    const { ref, ort } = bothPaths(() => linearCrossEntropy(h, w, targets, { chunkRows: 4 }), [h, w]);
    expect(Number.isFinite(ort.loss) && ort.grads.every((g) => g!.every(Number.isFinite))).toBe(true);
    expectSame(ort, ref);
  });

  it("gives the exact loss of a row whose target's softmax underflows in f32 (frozen, trained and quantized heads)", () => {
    // Row 0's target logit sits ~400 below the others: softmax[t] is 0 in f32, the loss ~400.
    const k = 8;
    const hd = new Float32Array(2 * k).fill(1);
    const wd = new Float32Array(40 * k).fill(5);
    wd.fill(-45, 0, k); // target 0's row: logit −360 against 40 elsewhere
    const targets = Int32Array.from([0, 3]);
    const expected = (400 + Math.log(39)) / 2; // mean of row 0 (≈ 403.7) and row 1 (log 40 − tiny)
    for (const wGrad of [false, true]) {
      const h = rand([2, k]);
      h.data.set(hd);
      const w = rand([40, k], wGrad);
      w.data.set(wd);
      const { ref, ort } = bothPaths(() => linearCrossEntropy(h, w, targets), wGrad ? [h, w] : [h]);
      expect(ort.loss).toBeCloseTo(ref.loss, 3);
      expect(ort.loss).toBeGreaterThan(expected);
      expectSame(ort, ref);
    }
    const q = quantize(
      "q8_0",
      Float32Array.from({ length: 1100 * 32 }, (_, i) => (i < 32 ? -12 : 1)),
      [1100, 32],
    );
    const hq = rand([2, 32]);
    hq.data.fill(1);
    const { ref, ort } = bothPaths(() => linearCrossEntropy(hq, q, targets), [hq]);
    expect(ref.loss).toBeGreaterThan(100);
    expectSame(ort, ref);
  });

  for (const type of ["q8_0", "q4_0"] as QuantType[]) {
    it(`equals the TypeScript path for a ${type} head`, () => {
      const [v, k] = [4100, 32];
      const w = quantize(type, rand([v, k], false, 0.2).data, [v, k]);
      const h = rand([9, k]);
      const targets = Int32Array.from([4099, 3, -100, 2050, 0, 1, -100, 17, 4000]);
      for (const chunkRows of [2, 3, 64]) {
        const { ref, ort } = bothPaths(() => linearCrossEntropy(h, w, targets, { chunkRows }), [h]);
        expectSame(ort, ref);
      }
      setMatmulPath("ort");
      const evalOrt = noGrad(() => linearCrossEntropy(h, w, targets)).item();
      setMatmulPath("reference");
      const evalRef = noGrad(() => linearCrossEntropy(h, w, targets)).item();
      expect(Math.abs(evalOrt - evalRef) / evalRef).toBeLessThan(1e-5);
    });
  }

  it("gives the same eval loss without gradients, and 0 with zero gradients when every target is ignored", () => {
    const h = rand([10, 12]);
    const w = rand([80, 12], true, 0.5);
    const t = Int32Array.from([1, 2, 79, 0, 5, 5, 6, 70, 8, 9]);
    setMatmulPath("ort");
    const evalOrt = noGrad(() => linearCrossEntropy(h, w, t, { chunkRows: 3 }));
    expect(evalOrt.requiresGrad).toBe(false);
    setMatmulPath("reference");
    const evalRef = noGrad(() => linearCrossEntropy(h, w, t, { chunkRows: 3 })).item();
    expect(Math.abs(evalOrt.item() - evalRef) / evalRef).toBeLessThan(1e-5);
    setMatmulPath("ort");
    h.grad = w.grad = null;
    const none = linearCrossEntropy(h, w, new Int32Array(10).fill(-100));
    expect(none.item()).toBe(0);
    none.backward();
    expect(h.grad!.data.every((x) => x === 0) && w.grad!.data.every((x) => x === 0)).toBe(true);
  });
});
