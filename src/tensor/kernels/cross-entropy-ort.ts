// One chunk of the fused output head + cross-entropy as an onnxruntime graph: logits (or given
// logits of a quantized head), their softmax, each row's loss, and when asked the gradient
// (softmax − one-hot)·scale and its products dH = G·W and dW += Gᵀ·H. The softmax over (rows × vocab)
// runs vectorized on every compute thread, where the TypeScript loop was single-threaded and most of
// a small model's step. Rows are those with a target (the caller compacts them).
import { encodeOnnxModel, type OnnxNode } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";

const f32 = (name: string, dims: (string | number)[]) => ({ name, type: "float" as const, dims });
const i64 = (name: string, dims: (string | number)[]) => ({ name, type: "int64" as const, dims });
const op = (name: string, inputs: string[], out: string, attributes: OnnxNode["attributes"] = []): OnnxNode => ({
  op: name,
  inputs,
  outputs: [out],
  attributes,
});
const lastAxis = { name: "axis", int: 1 };

/** What a chunk computes besides the row losses: nothing (eval), dH, dW, or both. */
export interface ChunkGrads {
  dh: boolean;
  dw: boolean;
}

/**
 * P = softmax(L) (one vectorized pass in onnxruntime's kernel); loss = −log P[t]. A row whose P[t]
 * underflows gives a loss of +∞ (or a large, imprecise one): the caller recomputes those rows exactly
 * (`LOSS_RECOMPUTE_ABOVE`); the gradient needs no such care (P[t] ≈ 0 there is right).
 */
function lossNodes(logits: string): OnnxNode[] {
  return [
    op("Softmax", [logits], "P", [lastAxis]),
    op("GatherElements", ["P", "T"], "PT", [lastAxis]),
    op("Log", ["PT"], "LPT"),
    op("Neg", ["LPT"], "Loss"),
  ];
}

/** G = P·scale with −scale added at each row's target (ScatterElements "add": no one-hot). */
const gradientNodes = (): OnnxNode[] => [
  op("Mul", ["P", "Scale"], "Ps"),
  op("ScatterElements", ["Ps", "T", "U"], "G", [lastAxis, { name: "reduction", string: "add" }]),
];

/**
 * Rows whose loss from the graph is above this are recomputed exactly by the caller: below it P[t] ≥
 * e^-60 ≈ 1e-26 is a normal float with full precision, so −log P[t] is exact to f32 rounding.
 */
export const LOSS_RECOMPUTE_ABOVE = 60;

/**
 * Inputs H (n, k), W (v, k): L = H·Wᵀ inside the graph. With dH only (a LoRA step's frozen head) the
 * one-hot term is a gather of W's target rows: dH = (P·W − W[t])·scale, so the (n, v) gradient is
 * never written. With dW: G as above, dH = G·W and dW = Gᵀ·H + DW (running sum).
 */
function headGraph(g: ChunkGrads): Uint8Array {
  const grads = g.dh || g.dw;
  const dhOnly = g.dh && !g.dw;
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      f32("H", ["n", "k"]),
      f32("W", ["v", "k"]),
      i64("T", ["n", 1]),
      ...(dhOnly ? [i64("Tn", ["n"])] : []),
      ...(g.dw ? [f32("U", ["n", 1])] : []),
      ...(grads ? [f32("Scale", [1])] : []),
      ...(g.dw ? [f32("DW", ["v", "k"])] : []),
    ],
    outputs: [
      f32("Loss", ["n", 1]),
      ...(g.dh ? [f32("dH", ["n", "k"])] : []),
      ...(g.dw ? [f32("dW", ["v", "k"])] : []),
    ],
    initializers: [],
    nodes: [
      op("Gemm", ["H", "W"], "L", [{ name: "transB", int: 1 }]),
      ...lossNodes("L"),
      ...(dhOnly
        ? [
            op("MatMul", ["P", "W"], "PW"),
            op("Gather", ["W", "Tn"], "WT", [{ name: "axis", int: 0 }]),
            op("Sub", ["PW", "WT"], "D"),
            op("Mul", ["D", "Scale"], "dH"),
          ]
        : []),
      ...(g.dw ? gradientNodes() : []),
      ...(g.dh && g.dw ? [op("MatMul", ["G", "W"], "dH")] : []),
      ...(g.dw ? [op("Gemm", ["G", "H", "DW"], "dW", [{ name: "transA", int: 1 }])] : []),
    ],
  });
}

/**
 * Input logits L (n, v) (a quantized head's, computed apart); outputs the row losses and, for the
 * gradient, the softmax P itself, written straight into the caller's buffer: the caller subtracts the
 * one-hot and scales dH afterwards, so the graph holds no (n, v) intermediate of its own.
 */
function logitsGraph(probs: boolean): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("L", ["n", "v"]), i64("T", ["n", 1])],
    outputs: [f32("Loss", ["n", 1]), ...(probs ? [f32("P", ["n", "v"])] : [])],
    initializers: [],
    nodes: lossNodes("L"),
  });
}

/** Per-chunk targets and the constant −scale each target row gets, reused across chunks. */
export interface ChunkLabels {
  t: BigInt64Array; // (n): target ids of the chunk's rows
  u: Float32Array; // (n): −scale, read only by the graph that trains W (may be empty otherwise)
  scale: number;
}

/**
 * For rows hc (n, k) and an f32 head w (v, k): writes each row's loss into `loss` (n), dH into `dh`
 * (n, k) when given, and dwOut = dwIn + Gᵀ·hc when both are given (dwOut must not alias dwIn).
 */
export function ortHeadCrossEntropy(
  hc: Float32Array,
  w: Float32Array,
  labels: ChunkLabels,
  n: number,
  loss: Float32Array,
  dh: Float32Array | null,
  dw: { in: Float32Array; out: Float32Array } | null,
): void {
  const k = hc.length / n;
  const v = w.length / k;
  const g = { dh: dh !== null, dw: dw !== null };
  const grads = g.dh || g.dw;
  const feeds = {
    H: { data: hc, dims: [n, k] },
    W: { data: w, dims: [v, k] },
    T: { data: labels.t.subarray(0, n), dims: [n, 1] },
    ...(g.dh && !g.dw ? { Tn: { data: labels.t.subarray(0, n), dims: [n] } } : {}),
    ...(g.dw ? { U: { data: labels.u.subarray(0, n), dims: [n, 1] } } : {}),
    ...(grads ? { Scale: { data: Float32Array.of(labels.scale), dims: [1] } } : {}),
    ...(dw ? { DW: { data: dw.in, dims: [v, k] } } : {}),
  };
  const into = {
    Loss: { data: loss.subarray(0, n), dims: [n, 1] },
    ...(dh ? { dH: { data: dh, dims: [n, k] } } : {}),
    ...(dw ? { dW: { data: dw.out, dims: [v, k] } } : {}),
  };
  runOnnxModel(`lce-head${g.dh ? "-h" : ""}${g.dw ? "-w" : ""}`, () => headGraph(g), feeds, into);
}

/** For logits x (n, v): writes each row's loss into `loss` (n) and, when given, softmax(x) into `probs` (n, v). */
export function ortLogitsCrossEntropy(
  x: Float32Array,
  labels: ChunkLabels,
  n: number,
  loss: Float32Array,
  probs: Float32Array | null,
): void {
  const v = x.length / n;
  const feeds = { L: { data: x, dims: [n, v] }, T: { data: labels.t.subarray(0, n), dims: [n, 1] } };
  const into = {
    Loss: { data: loss.subarray(0, n), dims: [n, 1] },
    ...(probs ? { P: { data: probs, dims: [n, v] } } : {}),
  };
  runOnnxModel(`lce-logits${probs ? "-p" : ""}`, () => logitsGraph(probs !== null), feeds, into);
}
