// lowRankLinear (x·Wᵀ + s·((x⊙M)·Aᵀ)·Bᵀ as one op, M an optional dropout mask): the onnxruntime graphs and the kernel-by-kernel path
// agree (1e-5 relative), gradients match finite differences, it equals the unfused composition, and a
// frozen W gets no gradient.
import { afterEach, describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { lowRankLinear } from "../../src/tensor/ops/low-rank-linear.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { add, scale } from "../../src/tensor/ops/elementwise.js";
import { dropout } from "../../src/tensor/ops/dropout.js";
import { Rng } from "../../src/tensor/rng.js";
import { setMatmulPath } from "../../src/tensor/kernels/kernel.js";
import { ortAvailable } from "../../src/tensor/kernels/ort.js";
import { InfuseError } from "../../src/core/errors.js";
import { expectGrads, maxRelDiff, rand } from "./helpers.js";

afterEach(() => setMatmulPath("auto"));

const S = 1.7;
/** x (2, 5, K=6), W (N=4, K), A (r=3, K), B (N, r). */
const shapes = [
  [2, 5, 6],
  [4, 6],
  [3, 6],
  [4, 3],
];

function composed([x, w, a, b]: Tensor[]): Tensor {
  const base = matmul(x!, w!, { transB: true });
  return add(base, scale(matmul(matmul(x!, a!, { transB: true }), b!, { transB: true }), S));
}

/** Output and every input gradient on one path, for a fixed output gradient. */
function run(path: "reference" | "ort", fn: (xs: Tensor[]) => Tensor, inputs: Tensor[], seed: Float32Array) {
  setMatmulPath(path);
  const xs = inputs.map((t) => new Tensor(t.data.slice(), t.shape, t.requiresGrad));
  const y = fn(xs);
  y.backward({ grad: seed });
  return [y.data, ...xs.map((t) => t.grad?.data ?? null)];
}

function expectSame(got: (Float32Array | null)[], want: (Float32Array | null)[]): void {
  want.forEach((w, i) => {
    if (w === null) expect(got[i], `grad ${i}`).toBeNull();
    else expect(maxRelDiff(got[i]!, w), `output/grad ${i}`).toBeLessThan(1e-5);
  });
}

describe("lowRankLinear", () => {
  it("gradients match finite differences (x, W, A, B)", () => {
    setMatmulPath("reference");
    expectGrads(
      ([x, w, a, b]) => lowRankLinear(x!, w!, a!, b!, S),
      shapes.map((s) => rand(s)),
    );
  });

  it("equals the unfused product plus adapter, forward and gradients", () => {
    const inputs = shapes.map((s) => rand(s));
    const seed = rand([2, 5, 4], false).data;
    const want = run("reference", composed, inputs, seed);
    expectSame(
      run("reference", ([x, w, a, b]) => lowRankLinear(x!, w!, a!, b!, S), inputs, seed),
      want,
    );
  });

  it.skipIf(!ortAvailable())("onnxruntime graphs = kernel-by-kernel path, with and without x's gradient", () => {
    const seed = rand([2, 5, 4], false).data;
    for (const xGrad of [true, false]) {
      const [x, w, a, b] = shapes.map((s) => rand(s));
      const inputs = [new Tensor(x!.data, x!.shape, xGrad), w!, a!, b!];
      const fn = ([x0, w0, a0, b0]: Tensor[]) => lowRankLinear(x0!, w0!, a0!, b0!, S);
      expectSame(run("ort", fn, inputs, seed), run("reference", fn, inputs, seed));
    }
  });

  it.skipIf(!ortAvailable())(
    "a dropout mask on the adapter's input, on both paths, equals dropout then the composition",
    () => {
      const inputs = shapes.map((s) => rand(s));
      const seed = rand([2, 5, 4], false).data;
      const mask = new Float32Array(2 * 5 * 6);
      new Rng(5).fillDropoutMask(mask, 0.3, 1 / 0.7);
      const fused = ([x, w, a, b]: Tensor[]) => lowRankLinear(x!, w!, a!, b!, S, mask);
      const unfused = ([x, w, a, b]: Tensor[]) =>
        add(
          matmul(x!, w!, { transB: true }),
          scale(matmul(matmul(dropout(x!, 0.3, new Rng(5)), a!, { transB: true }), b!, { transB: true }), S),
        );
      const want = run("reference", unfused, inputs, seed);
      for (const path of ["reference", "ort"] as const) expectSame(run(path, fused, inputs, seed), want);
      for (const xGrad of [true, false]) {
        const frozenX = [new Tensor(inputs[0]!.data, inputs[0]!.shape, xGrad), ...inputs.slice(1)];
        expectSame(run("ort", fused, frozenX, seed), run("reference", fused, frozenX, seed));
      }
      setMatmulPath("reference");
      expectGrads(
        ([x, w, a, b]) => lowRankLinear(x!, w!, a!, b!, S, mask),
        shapes.map((s) => rand(s)),
      );
    },
  );

  it("a frozen W gets no gradient and its product keeps nothing for one", () => {
    const [x, , a, b] = shapes.map((s) => rand(s));
    const w = rand(shapes[1]!, false);
    const y = lowRankLinear(x!, w, a!, b!, S);
    y.backward({ grad: new Float32Array(y.size).fill(1) });
    expect(w.grad).toBeNull();
    expect(a!.grad).not.toBeNull();
  });

  it("names the shapes when they do not fit", () => {
    const [x, w, a] = shapes.map((s) => rand(s));
    const call = () => lowRankLinear(x!, w!, a!, rand([5, 3]), S);
    expect(call).toThrow(InfuseError);
    expect(call).toThrow(/lowRankLinear/);
  });
});
