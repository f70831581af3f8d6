// A linear layer's product and bias add as one onnxruntime Gemm (y = x·Wᵀ + b), and its backward as
// one graph (dX = G·W, dW = Gᵀ·X, db = Σ_rows G) with only the outputs a caller needs.
// Shapes: M rows (B·T), K inputs, N outputs; W (N, K) as GGUF and Hugging Face store it.
import { encodeOnnxModel, type OnnxNode } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";

const f32 = (name: string, dims: (string | number)[]) => ({ name, type: "float" as const, dims });

function forwardGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("X", ["m", "k"]), f32("W", ["n", "k"]), f32("B", ["n"])],
    outputs: [f32("Y", ["m", "n"])],
    nodes: [{ op: "Gemm", inputs: ["X", "W", "B"], outputs: ["Y"], attributes: [{ name: "transB", int: 1 }] }],
  });
}

function backwardGraph(needX: boolean, needW: boolean): Uint8Array {
  const nodes: OnnxNode[] = [];
  if (needX) nodes.push({ op: "MatMul", inputs: ["G", "W"], outputs: ["dX"] });
  if (needW) {
    nodes.push({ op: "Gemm", inputs: ["G", "X"], outputs: ["dW"], attributes: [{ name: "transA", int: 1 }] });
    nodes.push({
      op: "ReduceSum",
      inputs: ["G", "rows"],
      outputs: ["dB"],
      attributes: [{ name: "keepdims", int: 0 }],
    });
  }
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("G", ["m", "n"]), ...(needW ? [f32("X", ["m", "k"])] : []), ...(needX ? [f32("W", ["n", "k"])] : [])],
    outputs: [...(needX ? [f32("dX", ["m", "k"])] : []), ...(needW ? [f32("dW", ["n", "k"]), f32("dB", ["n"])] : [])],
    initializers: needW ? [{ name: "rows", dims: [1], data: BigInt64Array.of(0n) }] : [],
    nodes,
  });
}

/** y (M, N) = x (M, K)·wᵀ + b. */
export function ortLinear(x: Float32Array, w: Float32Array, b: Float32Array, m: number, y: Float32Array): void {
  const n = b.length;
  const k = w.length / n;
  const feeds = { X: { data: x, dims: [m, k] }, W: { data: w, dims: [n, k] }, B: { data: b, dims: [n] } };
  runOnnxModel("linear-fwd", forwardGraph, feeds, { Y: { data: y, dims: [m, n] } });
}

/** Writes dx (M, K) when given, and dw (N, K) with db (N) when given. */
export function ortLinearBackward(
  g: Float32Array,
  x: Float32Array,
  w: Float32Array,
  m: number,
  out: { dx: Float32Array | null; dw: Float32Array | null; db: Float32Array | null },
): void {
  const n = g.length / m;
  const k = w.length / n;
  const [needX, needW] = [out.dx !== null, out.dw !== null];
  if (!needX && !needW) return;
  const feeds = {
    G: { data: g, dims: [m, n] },
    ...(needW ? { X: { data: x, dims: [m, k] } } : {}),
    ...(needX ? { W: { data: w, dims: [n, k] } } : {}),
  };
  const into = {
    ...(out.dx ? { dX: { data: out.dx, dims: [m, k] } } : {}),
    ...(out.dw && out.db ? { dW: { data: out.dw, dims: [n, k] }, dB: { data: out.db, dims: [n] } } : {}),
  };
  runOnnxModel(`linear-bwd-${+needX}${+needW}`, () => backwardGraph(needX, needW), feeds, into);
}
