// RMSNorm forward and backward as onnxruntime graphs over (rows, D): vectorized and on every compute
// thread, where the TypeScript loops were a few percent of a LoRA step. Forward also returns the
// per-row inverse std that backward reuses; backward's weight gradient is a separate graph variant,
// run only when the weight requires grad (a frozen base's norms do not).
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

/** Y = X · R · W with R = 1/√(mean(X²) + eps) per row. */
function forwardGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("X", ["n", "d"]), f32("W", ["d"]), f32("E", [1])],
    outputs: [f32("Y", ["n", "d"]), f32("R", ["n", 1])],
    nodes: [
      op("Mul", ["X", "X"], "XX"),
      meanLast("XX", "MS"),
      op("Add", ["MS", "E"], "V"),
      op("Sqrt", ["V"], "SD"),
      op("Reciprocal", ["SD"], "R"),
      op("Mul", ["X", "R"], "XH"),
      op("Mul", ["XH", "W"], "Y"),
    ],
  });
}

/** dX = R·(G·W − X̂·mean(G·W·X̂)) with X̂ = X·R; dW = Σ_rows G·X̂ when asked. */
function backwardGraph(weightGrad: boolean): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("G", ["n", "d"]), f32("X", ["n", "d"]), f32("W", ["d"]), f32("R", ["n", 1])],
    outputs: [f32("dX", ["n", "d"]), ...(weightGrad ? [f32("dW", ["d"])] : [])],
    initializers: weightGrad ? [{ name: "rows", dims: [1], data: BigInt64Array.of(0n) }] : [],
    nodes: [
      op("Mul", ["G", "W"], "GW"),
      op("Mul", ["X", "R"], "XH"),
      op("Mul", ["GW", "XH"], "P"),
      meanLast("P", "D"),
      op("Mul", ["XH", "D"], "T"),
      op("Sub", ["GW", "T"], "U"),
      op("Mul", ["U", "R"], "dX"),
      ...(weightGrad
        ? [
            op("Mul", ["G", "XH"], "GXH"),
            { ...op("ReduceSum", ["GXH", "rows"], "dW"), attributes: [{ name: "keepdims", int: 0 }] },
          ]
        : []),
    ],
  });
}

/** Writes y (rows, d) and the per-row inverse std `inv` (rows). */
export function ortRmsNorm(x: Float32Array, w: Float32Array, eps: number, y: Float32Array, inv: Float32Array): void {
  const [n, d] = [inv.length, w.length];
  const feeds = {
    X: { data: x, dims: [n, d] },
    W: { data: w, dims: [d] },
    E: { data: Float32Array.of(eps), dims: [1] },
  };
  runOnnxModel("rmsnorm-fwd", forwardGraph, feeds, { Y: { data: y, dims: [n, d] }, R: { data: inv, dims: [n, 1] } });
}

/** Writes gx (rows, d), and gw (d) when given. */
export function ortRmsNormBackward(
  g: Float32Array,
  x: Float32Array,
  w: Float32Array,
  inv: Float32Array,
  gx: Float32Array,
  gw: Float32Array | null,
): void {
  const [n, d] = [inv.length, w.length];
  const feeds = {
    G: { data: g, dims: [n, d] },
    X: { data: x, dims: [n, d] },
    W: { data: w, dims: [d] },
    R: { data: inv, dims: [n, 1] },
  };
  const into = { dX: { data: gx, dims: [n, d] }, ...(gw ? { dW: { data: gw, dims: [d] } } : {}) };
  runOnnxModel(`rmsnorm-bwd${gw ? "-w" : ""}`, () => backwardGraph(gw !== null), feeds, into);
}

/**
 * LayerNorm Y = X̂·W + B with X̂ = (X − mean)·R, R = 1/√(var + eps) per row. The training variant
 * also returns X̂ and R for backward; inference returns Y alone.
 */
function layerNormGraph(train: boolean, residual: boolean): Uint8Array {
  // with a residual, Y = LayerNorm(X + Z): a post-LN encoder block's tail in one graph (the
  // backward below serves both, since dX is shared by the two summands)
  const input = residual ? "S" : "X";
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      f32("X", ["n", "d"]),
      ...(residual ? [f32("Z", ["n", "d"])] : []),
      f32("W", ["d"]),
      f32("B", ["d"]),
      f32("E", [1]),
    ],
    outputs: [f32("Y", ["n", "d"]), ...(train ? [f32("XH", ["n", "d"]), f32("R", ["n", 1])] : [])],
    nodes: [
      ...(residual ? [op("Add", ["X", "Z"], "S")] : []),
      meanLast(input, "MU"),
      op("Sub", [input, "MU"], "XC"),
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

/** dX = R·(G·W − mean(G·W) − X̂·mean(G·W·X̂)); dW = Σ_rows G·X̂; dB = Σ_rows G. */
function layerNormBackwardGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [f32("G", ["n", "d"]), f32("XH", ["n", "d"]), f32("W", ["d"]), f32("R", ["n", 1])],
    outputs: [f32("dX", ["n", "d"]), f32("dW", ["d"]), f32("dB", ["d"])],
    initializers: [{ name: "rows", dims: [1], data: BigInt64Array.of(0n) }],
    nodes: [
      op("Mul", ["G", "W"], "GW"),
      meanLast("GW", "M1"),
      op("Mul", ["GW", "XH"], "P"),
      meanLast("P", "M2"),
      op("Mul", ["XH", "M2"], "T"),
      op("Sub", ["GW", "M1"], "U0"),
      op("Sub", ["U0", "T"], "U"),
      op("Mul", ["U", "R"], "dX"),
      op("Mul", ["G", "XH"], "GXH"),
      { ...op("ReduceSum", ["GXH", "rows"], "dW"), attributes: [{ name: "keepdims", int: 0 }] },
      { ...op("ReduceSum", ["G", "rows"], "dB"), attributes: [{ name: "keepdims", int: 0 }] },
    ],
  });
}

/**
 * Writes y (rows, d) = LayerNorm(x), or LayerNorm(x + z) given a residual `z`; with `keep`, also the
 * normalised rows (rows, d) and the per-row inverse std (rows) for backward.
 */
export function ortLayerNorm(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  eps: number,
  y: Float32Array,
  keep: { xhat: Float32Array; inv: Float32Array } | null,
  z?: Float32Array,
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
      `layernorm-fwd${z ? "-add" : ""}${keep ? "-train" : ""}`,
      () => layerNormGraph(keep !== null, z !== undefined),
      { X: cut(x), ...(z ? { Z: cut(z) } : {}), W, B, E },
      into,
    );
  }
}

/** Rows per call: ~POINTWISE_SLAB values (ORT's elementwise nodes slow down on arrays of many millions). */
function slabRows(d: number): number {
  return Math.max(1, Math.floor((1 << 18) / d));
}

/** Writes gx (rows, d), gw (d) and gb (d). */
export function ortLayerNormBackward(
  g: Float32Array,
  xhat: Float32Array,
  w: Float32Array,
  inv: Float32Array,
  gx: Float32Array,
  gw: Float32Array,
  gb: Float32Array,
): void {
  const [rows, d] = [inv.length, w.length];
  const step = slabRows(d);
  const [pw, pb] = rows > step ? [new Float32Array(d), new Float32Array(d)] : [gw, gb];
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    const cut = (a: Float32Array) => ({ data: a.subarray(r * d, (r + n) * d), dims: [n, d] });
    const feeds = {
      G: cut(g),
      XH: cut(xhat),
      W: { data: w, dims: [d] },
      R: { data: inv.subarray(r, r + n), dims: [n, 1] },
    };
    const into = { dX: cut(gx), dW: { data: pw, dims: [d] }, dB: { data: pb, dims: [d] } };
    runOnnxModel("layernorm-bwd", layerNormBackwardGraph, feeds, into);
    if (pw === gw) continue;
    for (let j = 0; j < d; j++) {
      gw[j] = (r === 0 ? 0 : gw[j]!) + pw[j]!;
      gb[j] = (r === 0 ? 0 : gb[j]!) + pb[j]!;
    }
  }
}
