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
