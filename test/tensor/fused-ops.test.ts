// The fused ops a LoRA step runs natively (attention, SwiGLU) and the token-major head order: the
// onnxruntime graphs and the TypeScript loops agree (1e-5 relative), gradients match finite differences
// on both paths, and "bthd" equals "bhtd" through permutes. RMSNorm's graphs likewise.
import { afterEach, describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { attention, paddingMask } from "../../src/tensor/ops/attention.js";
import { silu, swiglu } from "../../src/tensor/ops/activation.js";
import { mul } from "../../src/tensor/ops/elementwise.js";
import { permute } from "../../src/tensor/ops/layout.js";
import { rope } from "../../src/tensor/ops/rope.js";
import { rmsNorm } from "../../src/tensor/ops/norm.js";
import { setMatmulPath } from "../../src/tensor/kernels/kernel.js";
import { ortAvailable } from "../../src/tensor/kernels/ort.js";
import { expectGrads, maxRelDiff, rand } from "./helpers.js";

const paths = ["reference", "ort"] as const;
const toHeadsFirst = (t: Tensor) => permute(t, [0, 2, 1, 3]);

/** Output and the three input gradients of `fn` on the given path, for a fixed output gradient. */
function run(path: (typeof paths)[number], fn: (xs: Tensor[]) => Tensor, inputs: Tensor[], seed: Float32Array) {
  setMatmulPath(path);
  const xs = inputs.map((x) => new Tensor(x.data.slice(), x.shape, true));
  const y = fn(xs);
  y.backward({ grad: seed });
  return [y.data, ...xs.map((x) => x.grad!.data)];
}

function expectPathsAgree(fn: (xs: Tensor[]) => Tensor, inputs: Tensor[]): void {
  const size = fn(inputs.map((x) => new Tensor(x.data, x.shape))).size;
  const seed = rand([size], false).data;
  const [ref, ort] = paths.map((p) => run(p, fn, inputs, seed));
  ref!.forEach((r, i) => expect(maxRelDiff(ort![i]!, r), `output/grad ${i}`).toBeLessThan(1e-5));
}

afterEach(() => setMatmulPath("auto"));

describe.skipIf(!ortAvailable())("fused attention: onnxruntime graph = TypeScript loops", () => {
  it("grouped-query heads (6 query, 2 kv), causal, both head orders, forward and gradients", () => {
    for (const order of ["bhtd", "bthd"] as const) {
      const [q, k, v] =
        order === "bhtd"
          ? [
              [2, 6, 7, 4],
              [2, 2, 7, 4],
              [2, 2, 7, 5],
            ]
          : [
              [2, 7, 6, 4],
              [2, 7, 2, 4],
              [2, 7, 2, 5],
            ];
      expectPathsAgree(([a, b, c]) => attention(a!, b!, c!, { causal: true, order }), [rand(q!), rand(k!), rand(v!)]);
    }
  });

  it("a padding mask with left padding: fully hidden rows give zeros and zero gradients on both paths", () => {
    const mask = paddingMask(Int32Array.from([1, 1, 1, 1, 1, 0, 0, 1, 1, 1]), 2, 5);
    const inputs = [rand([2, 5, 4, 3]), rand([2, 5, 2, 3]), rand([2, 5, 2, 3])];
    const fn = ([a, b, c]: Tensor[]) => attention(a!, b!, c!, { causal: true, mask, order: "bthd", scale: 0.7 });
    expectPathsAgree(fn, inputs);
    for (const p of paths) {
      setMatmulPath(p);
      const y = fn(inputs).data;
      // sequence 2, tokens 0 and 1 see only padding keys: all four heads' rows are 0
      expect(Array.from(y.subarray(5 * 4 * 3, 7 * 4 * 3)).every((x) => x === 0)).toBe(true);
    }
  });

  it("gradients match finite differences through the native graphs", () => {
    setMatmulPath("ort");
    const mask = paddingMask(Int32Array.from([0, 1, 1, 1]), 1, 4);
    expectGrads(
      ([q, k, v]) => attention(q!, k!, v!, { causal: true, mask, order: "bthd" }),
      [rand([1, 4, 4, 2]), rand([1, 4, 2, 2]), rand([1, 4, 2, 3])],
    );
  });
});

describe("token-major (bthd) order", () => {
  it("attention and rope in bthd equal bhtd through permutes", () => {
    const [q, k, v] = [rand([2, 5, 6, 4], false), rand([2, 5, 3, 4], false), rand([2, 5, 3, 4], false)];
    const mask = paddingMask(Int32Array.from([0, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 2, 5);
    const tm = attention(q, k, v, { causal: true, mask, order: "bthd" });
    const hm = attention(toHeadsFirst(q), toHeadsFirst(k), toHeadsFirst(v), { causal: true, mask });
    expect(maxRelDiff(toHeadsFirst(tm).data, hm.data)).toBeLessThan(1e-6);
    const pos = Int32Array.of(0, 3, 4, 9, 11);
    for (const layout of ["interleaved", "half"] as const) {
      const r1 = rope(q, pos, { layout, order: "bthd" });
      const r2 = rope(toHeadsFirst(q), pos, { layout });
      expect(maxRelDiff(toHeadsFirst(r1).data, r2.data)).toBeLessThan(1e-7);
    }
  });

  it("rope gradients in bthd with per-sequence positions", () => {
    expectGrads(
      ([x]) => rope(x!, Int32Array.of(1, 2, 3, 7, 0, 5), { layout: "half", order: "bthd", base: 100 }),
      [rand([2, 3, 2, 4])],
    );
  });

  it("a mask with a head axis is refused, naming the shapes", () => {
    const m = new Tensor(new Float32Array(2 * 3 * 3), [1, 2, 3, 3]);
    expect(() => attention(rand([1, 2, 3, 4]), rand([1, 2, 3, 4]), rand([1, 2, 3, 4]), { mask: m })).toThrow(
      /attention: mask must broadcast to \(B, 1, T, S\).*\(1, 2, 3, 3\)/,
    );
  });
});

describe("swiglu", () => {
  it("equals mul(silu(gate), up), and its gradients match finite differences", () => {
    const [g, u] = [rand([3, 5]), rand([3, 5])];
    expect(maxRelDiff(swiglu(g, u).data, mul(silu(g), u).data)).toBeLessThan(1e-6);
    expectGrads(([a, b]) => swiglu(a!, b!), [g, u]);
  });

  it.skipIf(!ortAvailable())("onnxruntime graph = TypeScript loop, forward and gradients", () => {
    expectPathsAgree(([a, b]) => swiglu(a!, b!), [rand([17, 33]), rand([17, 33])]);
  });

  it("names the shapes when gate and up differ", () => {
    expect(() => swiglu(rand([2, 3]), rand([3, 2]))).toThrow(/swiglu:.*\(2, 3\), \(3, 2\)/);
  });
});

describe("rmsNorm", () => {
  it.skipIf(!ortAvailable())("onnxruntime graph = TypeScript loops, forward and gradients", () => {
    expectPathsAgree(([x, w]) => rmsNorm(x!, w!, 1e-5), [rand([2, 9, 40]), rand([40])]);
  });

  it("gradients match finite differences on both paths", () => {
    for (const p of ortAvailable() ? paths : (["reference"] as const)) {
      setMatmulPath(p);
      expectGrads(([x, w]) => rmsNorm(x!, w!, 1e-3), [rand([3, 6]), rand([6])]);
    }
  });

  it("a frozen weight gets no gradient on either path; x's gradient is the same", () => {
    const [seed, x0, w] = [rand([4, 8], false).data, rand([4, 8], false), rand([8], false)];
    const grads = paths.map((p) => {
      setMatmulPath(p);
      const x = new Tensor(x0.data, x0.shape, true);
      rmsNorm(x, w).backward({ grad: seed });
      expect(w.grad).toBeNull();
      return x.grad!.data;
    });
    expect(maxRelDiff(grads[1]!, grads[0]!)).toBeLessThan(1e-5);
  });
});
