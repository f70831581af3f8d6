// Elementwise onnxruntime graphs for ops whose TypeScript loops are hot in training: SwiGLU forward
// and backward. ORT's Sigmoid is vectorized and every graph runs on the compute threads.
import { encodeOnnxModel } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";

const vec = (name: string) => ({ name, type: "float" as const, dims: ["n"] });

function swigluGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [vec("G"), vec("U")],
    outputs: [vec("Y")],
    nodes: [
      { op: "Sigmoid", inputs: ["G"], outputs: ["S"] },
      { op: "Mul", inputs: ["G", "S"], outputs: ["A"] },
      { op: "Mul", inputs: ["A", "U"], outputs: ["Y"] },
    ],
  });
}

/** dU = dY·silu(G); dG = dY·U·σ(G)·(1 + G·(1 − σ(G))). */
function swigluBackwardGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [vec("G"), vec("U"), vec("dY")],
    outputs: [vec("dG"), vec("dU")],
    initializers: [{ name: "one", dims: [], data: Float32Array.of(1) }],
    nodes: [
      { op: "Sigmoid", inputs: ["G"], outputs: ["S"] },
      { op: "Mul", inputs: ["G", "S"], outputs: ["A"] },
      { op: "Mul", inputs: ["dY", "A"], outputs: ["dU"] },
      { op: "Sub", inputs: ["G", "A"], outputs: ["GmA"] }, // G·(1 − σ)
      { op: "Add", inputs: ["GmA", "one"], outputs: ["D0"] },
      { op: "Mul", inputs: ["D0", "S"], outputs: ["D1"] }, // silu'(G)
      { op: "Mul", inputs: ["dY", "U"], outputs: ["dYU"] },
      { op: "Mul", inputs: ["dYU", "D1"], outputs: ["dG"] },
    ],
  });
}

/** y = silu(g)·u elementwise. */
export function ortSwiglu(g: Float32Array, u: Float32Array, y: Float32Array): void {
  const dims = [g.length];
  runOnnxModel("swiglu-fwd", swigluGraph, { G: { data: g, dims }, U: { data: u, dims } }, { Y: { data: y, dims } });
}

export function ortSwigluBackward(
  g: Float32Array,
  u: Float32Array,
  dy: Float32Array,
  dg: Float32Array,
  du: Float32Array,
): void {
  const dims = [g.length];
  runOnnxModel(
    "swiglu-bwd",
    swigluBackwardGraph,
    { G: { data: g, dims }, U: { data: u, dims }, dY: { data: dy, dims } },
    { dG: { data: dg, dims }, dU: { data: du, dims } },
  );
}

/** Exact GELU: Y = 0.5·X·(1 + erf(X/√2)) (BERT's activation), opset 20's fused Gelu (4× the Erf graph's speed). */
function geluGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 20,
    inputs: [vec("X")],
    outputs: [vec("Y")],
    nodes: [{ op: "Gelu", inputs: ["X"], outputs: ["Y"] }],
  });
}

/** dX = dY·(0.5·(1 + erf(X/√2)) + X·φ(X)), φ the standard normal density. */
function geluBackwardGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [vec("X"), vec("dY")],
    outputs: [vec("dX")],
    initializers: [
      { name: "isq2", dims: [], data: Float32Array.of(Math.SQRT1_2) },
      { name: "one", dims: [], data: Float32Array.of(1) },
      { name: "half", dims: [], data: Float32Array.of(0.5) },
      { name: "nhalf", dims: [], data: Float32Array.of(-0.5) },
      { name: "isq2pi", dims: [], data: Float32Array.of(1 / Math.sqrt(2 * Math.PI)) },
    ],
    nodes: [
      { op: "Mul", inputs: ["X", "isq2"], outputs: ["XS"] },
      { op: "Erf", inputs: ["XS"], outputs: ["E"] },
      { op: "Add", inputs: ["E", "one"], outputs: ["E1"] },
      { op: "Mul", inputs: ["E1", "half"], outputs: ["CDF"] },
      { op: "Mul", inputs: ["X", "X"], outputs: ["X2"] },
      { op: "Mul", inputs: ["X2", "nhalf"], outputs: ["EX"] },
      { op: "Exp", inputs: ["EX"], outputs: ["PX"] },
      { op: "Mul", inputs: ["PX", "isq2pi"], outputs: ["PDF"] },
      { op: "Mul", inputs: ["X", "PDF"], outputs: ["XP"] },
      { op: "Add", inputs: ["CDF", "XP"], outputs: ["D"] },
      { op: "Mul", inputs: ["dY", "D"], outputs: ["dX"] },
    ],
  });
}

/**
 * Values per call of the elementwise graphs: on arrays of many millions ORT's nodes ran 10-40× slower
 * per value than on ~1M (each intermediate a fresh allocation, page-faulted in); slabs also stay in cache.
 */
export const POINTWISE_SLAB = 1 << 18;

/** y = gelu(x) (erf form) elementwise. */
export function ortGelu(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i += POINTWISE_SLAB) {
    const dims = [Math.min(POINTWISE_SLAB, x.length - i)];
    const cut = (a: Float32Array) => ({ data: a.subarray(i, i + dims[0]!), dims });
    runOnnxModel("gelu-fwd", geluGraph, { X: cut(x) }, { Y: cut(y) });
  }
}

export function ortGeluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i += POINTWISE_SLAB) {
    const dims = [Math.min(POINTWISE_SLAB, x.length - i)];
    const cut = (a: Float32Array) => ({ data: a.subarray(i, i + dims[0]!), dims });
    runOnnxModel("gelu-bwd", geluBackwardGraph, { X: cut(x), dY: cut(dy) }, { dX: cut(dx) });
  }
}
