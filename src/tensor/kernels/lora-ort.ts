// A linear layer with a low-rank update, y = x·Wᵀ + s·(xa·Aᵀ)·Bᵀ, as one onnxruntime graph forward
// and one backward (dX, dA, dB together): five small products per call instead of five native calls,
// sums and scalings. xa is x itself, or a separate input (dropout on the adapter's side only).
// Shapes: M rows, K in, N out, r rank. Leaves out W's gradient (frozen bases; the op computes it apart).
import { encodeOnnxModel, type OnnxNode } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";

export interface LowRankDims {
  m: number;
  k: number;
  n: number;
  r: number;
}

/** What the backward graph returns for x: G·W + dH·A ("sum"), G·W and dH·A apart ("split"), nothing ("none"). */
export type LowRankGradX = "sum" | "split" | "none";

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

/** Y = X·Wᵀ + (XA·Aᵀ·s)·Bᵀ; H = XA·Aᵀ (M, r) is kept for dB. */
function forwardGraph(split: boolean): Uint8Array {
  const xa = split ? "XA" : "X";
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      f32("X", ["m", "k"]),
      ...(split ? [f32("XA", ["m", "k"])] : []),
      f32("W", ["n", "k"]),
      f32("A", ["r", "k"]),
      f32("B", ["n", "r"]),
      f32("S", ["one"]),
    ],
    outputs: [f32("Y", ["m", "n"]), f32("H", ["m", "r"])],
    nodes: [
      gemm("X", "W", "Y0", { b: true }),
      gemm(xa, "A", "H", { b: true }),
      mul("H", "S", "HS"),
      gemm("HS", "B", "Y", { b: true }, "Y0"), // HS·Bᵀ + Y0
    ],
  });
}

/** dH = s·G·B; dA = dHᵀ·XA; dB = Gᵀ·(s·H); dX per `gradX`. */
function backwardGraph(gradX: LowRankGradX): Uint8Array {
  const xNodes: Record<LowRankGradX, OnnxNode[]> = {
    sum: [{ op: "MatMul", inputs: ["G", "W"], outputs: ["dX0"] }, gemm("dH", "A", "dX", {}, "dX0")],
    split: [
      { op: "MatMul", inputs: ["G", "W"], outputs: ["dX"] },
      { op: "MatMul", inputs: ["dH", "A"], outputs: ["dXA"] },
    ],
    none: [],
  };
  const xOutputs = { sum: [f32("dX", ["m", "k"])], split: [f32("dX", ["m", "k"]), f32("dXA", ["m", "k"])], none: [] };
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      f32("G", ["m", "n"]),
      f32("XA", ["m", "k"]),
      ...(gradX === "none" ? [] : [f32("W", ["n", "k"])]),
      f32("A", ["r", "k"]),
      f32("B", ["n", "r"]),
      f32("H", ["m", "r"]),
      f32("S", ["one"]),
    ],
    outputs: [f32("dA", ["r", "k"]), f32("dB", ["n", "r"]), ...xOutputs[gradX]],
    nodes: [
      { op: "MatMul", inputs: ["G", "B"], outputs: ["GB"] },
      mul("GB", "S", "dH"),
      gemm("dH", "XA", "dA", { a: true }),
      mul("H", "S", "HS"),
      gemm("G", "HS", "dB", { a: true }),
      ...xNodes[gradX],
    ],
  });
}

export interface LowRankArrays {
  x: Float32Array;
  /** The adapter's input when it differs from x (dropout); null: x. */
  xa: Float32Array | null;
  w: Float32Array;
  a: Float32Array;
  b: Float32Array;
  scale: number;
}

/** Writes y (M, N) and h = xa·Aᵀ (M, r). */
export function ortLowRankLinear(v: LowRankArrays, d: LowRankDims, y: Float32Array, h: Float32Array): void {
  const split = v.xa !== null;
  const feeds = {
    X: { data: v.x, dims: [d.m, d.k] },
    ...(v.xa ? { XA: { data: v.xa, dims: [d.m, d.k] } } : {}),
    W: { data: v.w, dims: [d.n, d.k] },
    A: { data: v.a, dims: [d.r, d.k] },
    B: { data: v.b, dims: [d.n, d.r] },
    S: { data: Float32Array.of(v.scale), dims: [1] },
  };
  runOnnxModel(`lowrank-fwd${split ? "-split" : ""}`, () => forwardGraph(split), feeds, {
    Y: { data: y, dims: [d.m, d.n] },
    H: { data: h, dims: [d.m, d.r] },
  });
}

export interface LowRankGrads {
  da: Float32Array;
  db: Float32Array;
  /** G·W (+ dH·A unless split); null when gradX is "none". */
  dx: Float32Array | null;
  /** dH·A, only when split. */
  dxa: Float32Array | null;
}

/** Writes the gradients of one ortLowRankLinear call from g = dY (M, N). */
export function ortLowRankLinearBackward(
  v: LowRankArrays,
  h: Float32Array,
  g: Float32Array,
  d: LowRankDims,
  gradX: LowRankGradX,
  out: LowRankGrads,
): void {
  const feeds = {
    G: { data: g, dims: [d.m, d.n] },
    XA: { data: v.xa ?? v.x, dims: [d.m, d.k] },
    ...(gradX === "none" ? {} : { W: { data: v.w, dims: [d.n, d.k] } }),
    A: { data: v.a, dims: [d.r, d.k] },
    B: { data: v.b, dims: [d.n, d.r] },
    H: { data: h, dims: [d.m, d.r] },
    S: { data: Float32Array.of(v.scale), dims: [1] },
  };
  const into = {
    dA: { data: out.da, dims: [d.r, d.k] },
    dB: { data: out.db, dims: [d.n, d.r] },
    ...(out.dx ? { dX: { data: out.dx, dims: [d.m, d.k] } } : {}),
    ...(out.dxa ? { dXA: { data: out.dxa, dims: [d.m, d.k] } } : {}),
  };
  runOnnxModel(`lowrank-bwd-${gradX}`, () => backwardGraph(gradX), feeds, into);
}
