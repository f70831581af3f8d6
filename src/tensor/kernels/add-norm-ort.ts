// The residual add and the LayerNorm after it (a post-LN encoder block's tail) as one onnxruntime graph
// per slab of rows: Y = LayerNorm(X + R), with X̂ and the per-row inverse std kept for backward (whose
// dX, shared by both summands, is norm-ort.ts's LayerNorm backward).
import { encodeOnnxModel, type OnnxNode } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";

const f32 = (name: string, dims: (string | number)[]) => ({ name, type: "float" as const, dims });
const op = (name: string, inputs: string[], out: string): OnnxNode => ({ op: name, inputs, outputs: [out] });
const meanLast = (from: string, to: string): OnnxNode => ({
  op: "ReduceMean",
  inputs: [from],
  outputs: [to],
  attributes: [
    { name: "axes", ints: [-1] },
    { name: "keepdims", int: 1 },
  ],
});

/** Rows per call: about 256K values (ORT's elementwise nodes slow down on arrays of many millions). */
const slabRows = (d: number) => Math.max(1, Math.floor((1 << 18) / d));

function graph(train: boolean): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("X", ["n", "d"]), f32("Z", ["n", "d"]), f32("W", ["d"]), f32("B", ["d"]), f32("E", [1])],
    outputs: [f32("Y", ["n", "d"]), ...(train ? [f32("XH", ["n", "d"]), f32("R", ["n", 1])] : [])],
    nodes: [
      op("Add", ["X", "Z"], "S"),
      meanLast("S", "MU"),
      op("Sub", ["S", "MU"], "XC"),
      op("Mul", ["XC", "XC"], "SQ"),
      meanLast("SQ", "VAR"),
      op("Add", ["VAR", "E"], "V"),
      op("Sqrt", ["V"], "SD"),
      op("Reciprocal", ["SD"], "R"),
      op("Mul", ["XC", "R"], "XH"),
      op("Mul", ["XH", "W"], "XW"),
      op("Add", ["XW", "B"], "Y"),
    ],
  });
}

/** y (rows, d) = LayerNorm(x + z); with `keep`, also x̂ (rows, d) and the inverse std (rows). */
export function ortAddLayerNorm(
  x: Float32Array,
  z: Float32Array,
  w: Float32Array,
  b: Float32Array,
  eps: number,
  y: Float32Array,
  keep: { xhat: Float32Array; inv: Float32Array } | null,
): void {
  const d = w.length;
  const rows = x.length / d;
  const step = slabRows(d);
  const [W, B, E] = [
    { data: w, dims: [d] },
    { data: b, dims: [d] },
    { data: Float32Array.of(eps), dims: [1] },
  ];
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    const cut = (a: Float32Array) => ({ data: a.subarray(r * d, (r + n) * d), dims: [n, d] });
    const into = {
      Y: cut(y),
      ...(keep ? { XH: cut(keep.xhat), R: { data: keep.inv.subarray(r, r + n), dims: [n, 1] } } : {}),
    };
    runOnnxModel(
      `add-layernorm-fwd${keep ? "-train" : ""}`,
      () => graph(keep !== null),
      { X: cut(x), Z: cut(z), W, B, E },
      into,
    );
  }
}
