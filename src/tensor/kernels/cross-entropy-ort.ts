// One chunk of the fused output head + cross-entropy as an onnxruntime graph: logits (or given
// logits of a quantized head), log-sum-exp with the max subtracted, each row's loss, and when asked
// the gradient (softmax − one-hot)·scale and its products dH = G·W and dW += Gᵀ·H. The exp over
// (rows × vocab) runs vectorized on every compute thread, where the TypeScript loop was single-threaded
// and most of a small model's step. Rows are those with a target (the caller compacts them).
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
 * Z = L − max(L); S = Σ exp(Z); loss = log S − Z[t] (stable for large logits: Z ≤ 0). With grads,
 * G = exp(Z)·(scale/S) then −scale added at each row's target (ScatterElements "add": no one-hot).
 */
function lossNodes(logits: string, grads: boolean): OnnxNode[] {
  return [
    op("ReduceMax", [logits], "M", [
      { name: "axes", ints: [1] },
      { name: "keepdims", int: 1 },
    ]),
    op("Sub", [logits, "M"], "Z"),
    op("Exp", ["Z"], "E"),
    op("ReduceSum", ["E", "axes"], "S", [{ name: "keepdims", int: 1 }]),
    op("Log", ["S"], "LS"),
    op("GatherElements", ["Z", "T"], "ZT", [lastAxis]),
    op("Sub", ["LS", "ZT"], "Loss"),
    ...(grads
      ? [
          op("Div", ["Scale", "S"], "R"),
          op("Mul", ["E", "R"], "P"),
          op("ScatterElements", ["P", "T", "U"], "G", [lastAxis, { name: "reduction", string: "add" }]),
        ]
      : []),
  ];
}

const axesInit = { name: "axes", dims: [1], data: BigInt64Array.of(1n) };

/** Inputs H (n, k), W (v, k): L = H·Wᵀ inside the graph; dH = G·W, dW = Gᵀ·H + DW (running sum). */
function headGraph(g: ChunkGrads): Uint8Array {
  const grads = g.dh || g.dw;
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      f32("H", ["n", "k"]),
      f32("W", ["v", "k"]),
      i64("T", ["n", 1]),
      ...(grads ? [f32("U", ["n", 1]), f32("Scale", [1])] : []),
      ...(g.dw ? [f32("DW", ["v", "k"])] : []),
    ],
    outputs: [
      f32("Loss", ["n", 1]),
      ...(g.dh ? [f32("dH", ["n", "k"])] : []),
      ...(g.dw ? [f32("dW", ["v", "k"])] : []),
    ],
    initializers: [axesInit],
    nodes: [
      op("Gemm", ["H", "W"], "L", [{ name: "transB", int: 1 }]),
      ...lossNodes("L", grads),
      ...(g.dh ? [op("MatMul", ["G", "W"], "dH")] : []),
      ...(g.dw ? [op("Gemm", ["G", "H", "DW"], "dW", [{ name: "transA", int: 1 }])] : []),
    ],
  });
}

/** Input logits L (n, v) (a quantized head's, computed apart); outputs the row losses and G. */
function logitsGraph(grads: boolean): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("L", ["n", "v"]), i64("T", ["n", 1]), ...(grads ? [f32("U", ["n", 1]), f32("Scale", [1])] : [])],
    outputs: [f32("Loss", ["n", 1]), ...(grads ? [f32("G", ["n", "v"])] : [])],
    initializers: [axesInit],
    nodes: lossNodes("L", grads),
  });
}

/** Per-chunk targets and the constant −scale each target row gets, reused across chunks. */
export interface ChunkLabels {
  t: BigInt64Array; // (n): target ids of the chunk's rows
  u: Float32Array; // (n): −scale
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
    ...(grads
      ? {
          U: { data: labels.u.subarray(0, n), dims: [n, 1] },
          Scale: { data: Float32Array.of(labels.scale), dims: [1] },
        }
      : {}),
    ...(dw ? { DW: { data: dw.in, dims: [v, k] } } : {}),
  };
  const into = {
    Loss: { data: loss.subarray(0, n), dims: [n, 1] },
    ...(dh ? { dH: { data: dh, dims: [n, k] } } : {}),
    ...(dw ? { dW: { data: dw.out, dims: [v, k] } } : {}),
  };
  runOnnxModel(`lce-head${g.dh ? "-h" : ""}${g.dw ? "-w" : ""}`, () => headGraph(g), feeds, into);
}

/** For logits x (n, v): writes each row's loss into `loss` (n) and, when given, G into `grad` (n, v). */
export function ortLogitsCrossEntropy(
  x: Float32Array,
  labels: ChunkLabels,
  n: number,
  loss: Float32Array,
  grad: Float32Array | null,
): void {
  const v = x.length / n;
  const feeds = {
    L: { data: x, dims: [n, v] },
    T: { data: labels.t.subarray(0, n), dims: [n, 1] },
    ...(grad
      ? {
          U: { data: labels.u.subarray(0, n), dims: [n, 1] },
          Scale: { data: Float32Array.of(labels.scale), dims: [1] },
        }
      : {}),
  };
  const into = {
    Loss: { data: loss.subarray(0, n), dims: [n, 1] },
    ...(grad ? { G: { data: grad, dims: [n, v] } } : {}),
  };
  runOnnxModel(`lce-logits${grad ? "-g" : ""}`, () => logitsGraph(grad !== null), feeds, into);
}
