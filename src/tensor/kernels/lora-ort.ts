// A linear layer with a low-rank update, y = x·Wᵀ + s·((x⊙M)·Aᵀ)·Bᵀ, as one onnxruntime graph forward
// and one backward (dX, dA, dB together): five small products per call instead of five native calls,
// sums and scalings. M is the adapter's dropout mask, applied inside the graphs (no dropped-out copy
// of x, no second x-gradient to add), or absent.
// Shapes: M rows, K in, N out, r rank. Leaves out W's gradient (frozen bases; the op computes it apart).
import { encodeOnnxModel, type OnnxNode } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";

export interface LowRankDims {
  m: number;
  k: number;
  n: number;
  r: number;
}

/** Whether the backward graph returns x's gradient, G·W + (dH·A)[⊙M]. */
export type LowRankGradX = "x" | "none";

const f32 = (name: string, dims: string[]) => ({ name, type: "float" as const, dims });
const gemm = (a: string, b: string, out: string, t: { a?: boolean; b?: boolean }, c?: string): OnnxNode => ({
  op: "Gemm",
  inputs: c ? [a, b, c] : [a, b],
  outputs: [out],
  attributes: [
    { name: "transA", int: t.a ? 1 : 0 },
    { name: "transB", int: t.b ? 1 : 0 },
  ],
});
const mul = (a: string, b: string, out: string): OnnxNode => ({ op: "Mul", inputs: [a, b], outputs: [out] });

/** Y = X·Wᵀ + (XA·Aᵀ·s)·Bᵀ with XA = X⊙M when masked, else X; H = XA·Aᵀ (M, r) is kept for dB. */
function forwardGraph(masked: boolean): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      f32("X", ["m", "k"]),
      ...(masked ? [f32("M", ["m", "k"])] : []),
      f32("W", ["n", "k"]),
      f32("A", ["r", "k"]),
      f32("B", ["n", "r"]),
      f32("S", ["one"]),
    ],
    outputs: [f32("Y", ["m", "n"]), f32("H", ["m", "r"])],
    nodes: [
      gemm("X", "W", "Y0", { b: true }),
      ...(masked ? [mul("X", "M", "XA")] : []),
      gemm(masked ? "XA" : "X", "A", "H", { b: true }),
      mul("H", "S", "HS"),
      gemm("HS", "B", "Y", { b: true }, "Y0"), // HS·Bᵀ + Y0
    ],
  });
}

/** dH = s·G·B; dA = dHᵀ·XA (XA = X⊙M made again, not kept); dB = Gᵀ·(s·H); dX = G·W + (dH·A)[⊙M]. */
function backwardGraph(gradX: LowRankGradX, masked: boolean): Uint8Array {
  const xa = masked ? "XA" : "X";
  const xNodes: OnnxNode[] =
    gradX === "none"
      ? []
      : masked
        ? [
            { op: "MatMul", inputs: ["G", "W"], outputs: ["dX0"] },
            { op: "MatMul", inputs: ["dH", "A"], outputs: ["dXA0"] },
            mul("dXA0", "M", "dXA"),
            { op: "Add", inputs: ["dX0", "dXA"], outputs: ["dX"] },
          ]
        : [{ op: "MatMul", inputs: ["G", "W"], outputs: ["dX0"] }, gemm("dH", "A", "dX", {}, "dX0")];
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      f32("G", ["m", "n"]),
      f32("X", ["m", "k"]),
      ...(masked ? [f32("M", ["m", "k"])] : []),
      ...(gradX === "none" ? [] : [f32("W", ["n", "k"])]),
      f32("A", ["r", "k"]),
      f32("B", ["n", "r"]),
      f32("H", ["m", "r"]),
      f32("S", ["one"]),
    ],
    outputs: [f32("dA", ["r", "k"]), f32("dB", ["n", "r"]), ...(gradX === "none" ? [] : [f32("dX", ["m", "k"])])],
    nodes: [
      { op: "MatMul", inputs: ["G", "B"], outputs: ["GB"] },
      mul("GB", "S", "dH"),
      ...(masked ? [mul("X", "M", "XA")] : []),
      gemm("dH", xa, "dA", { a: true }),
      mul("H", "S", "HS"),
      gemm("G", "HS", "dB", { a: true }),
      ...xNodes,
    ],
  });
}

export interface LowRankArrays {
  x: Float32Array;
  /** The adapter's dropout mask (0 or 1/(1−p) per element of x), or null: the adapter reads x. */
  mask: Float32Array | null;
  w: Float32Array;
  a: Float32Array;
  b: Float32Array;
  scale: number;
}

/** Writes y (M, N) and h = (x⊙mask)·Aᵀ (M, r). */
export function ortLowRankLinear(v: LowRankArrays, d: LowRankDims, y: Float32Array, h: Float32Array): void {
  const masked = v.mask !== null;
  const feeds = {
    X: { data: v.x, dims: [d.m, d.k] },
    ...(v.mask ? { M: { data: v.mask, dims: [d.m, d.k] } } : {}),
    W: { data: v.w, dims: [d.n, d.k] },
    A: { data: v.a, dims: [d.r, d.k] },
    B: { data: v.b, dims: [d.n, d.r] },
    S: { data: Float32Array.of(v.scale), dims: [1] },
  };
  runOnnxModel(`lowrank-fwd${masked ? "-mask" : ""}`, () => forwardGraph(masked), feeds, {
    Y: { data: y, dims: [d.m, d.n] },
    H: { data: h, dims: [d.m, d.r] },
  });
}

export interface LowRankGrads {
  da: Float32Array;
  db: Float32Array;
  /** G·W + (dH·A)[⊙M]; null when x needs no gradient. */
  dx: Float32Array | null;
}

/** Writes the gradients of one ortLowRankLinear call from g = dY (M, N). */
export function ortLowRankLinearBackward(
  v: LowRankArrays,
  h: Float32Array,
  g: Float32Array,
  d: LowRankDims,
  out: LowRankGrads,
): void {
  const gradX: LowRankGradX = out.dx ? "x" : "none";
  const masked = v.mask !== null;
  const feeds = {
    G: { data: g, dims: [d.m, d.n] },
    X: { data: v.x, dims: [d.m, d.k] },
    ...(v.mask ? { M: { data: v.mask, dims: [d.m, d.k] } } : {}),
    ...(out.dx ? { W: { data: v.w, dims: [d.n, d.k] } } : {}),
    A: { data: v.a, dims: [d.r, d.k] },
    B: { data: v.b, dims: [d.n, d.r] },
    H: { data: h, dims: [d.m, d.r] },
    S: { data: Float32Array.of(v.scale), dims: [1] },
  };
  const into = {
    dA: { data: out.da, dims: [d.r, d.k] },
    dB: { data: out.db, dims: [d.n, d.r] },
    ...(out.dx ? { dX: { data: out.dx, dims: [d.m, d.k] } } : {}),
  };
  runOnnxModel(`lowrank-bwd-${gradX}${masked ? "-mask" : ""}`, () => backwardGraph(gradX, masked), feeds, into);
}
