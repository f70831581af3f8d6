// Bidirectional multi-head attention of an encoder over packed QKV (one projection's output, no split
// copies in TypeScript) with an additive key-padding mask, forward and backward as onnxruntime graphs.
// Each call covers a slab of sequences small enough that the (b, H, T, T) intermediates stay ~1M
// values: on large arrays ORT's elementwise nodes ran 10-40× slower per value (allocation, page faults).
// Shapes: B sequences, T tokens, H heads, D head size; QKV (B, T, 3, H, D), output and dY (B, T, 1, H, D).
import { encodeOnnxModel, type OnnxNode } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";

export interface PackedAttentionDims {
  batch: number;
  t: number;
  heads: number;
  d: number;
}

/** Values in one slab's (b, H, T, T) score array. */
export const SLAB_VALUES = 1 << 20;

const f32 = (name: string, dims: (string | number)[]) => ({ name, type: "float" as const, dims });
const node = (op: string, inputs: string[], out: string, attributes?: OnnxNode["attributes"]): OnnxNode => ({
  op,
  inputs,
  outputs: [out],
  ...(attributes ? { attributes } : {}),
});
const perm = (from: string, to: string, p: number[]) => node("Transpose", [from], to, [{ name: "perm", ints: p }]);
const QKV = f32("QKV", ["b", "t", 3, "h", "d"]);
const MASK = f32("M", ["b", 1, 1, 1, "t"]);
const SCALE = f32("scale", [1]);
const Y = (name: string) => f32(name, ["b", "t", 1, "h", "d"]);

/** Q·scale (b,H,T,D), Kᵀ (b,H,D,T), V (b,H,T,D), K (b,H,T,D) from packed QKV; P = softmax(Q·Kᵀ·scale + M). */
function unpackAndProbs(withK: boolean): OnnxNode[] {
  return [
    { op: "Split", inputs: ["QKV"], outputs: ["q5", "k5", "v5"], attributes: [{ name: "axis", int: 2 }] },
    node("Mul", ["q5", "scale"], "qs5"),
    perm("qs5", "Qs", [0, 2, 3, 1, 4]), // (b, 1, H, T, D)
    perm("k5", "Kt", [0, 2, 3, 4, 1]), // (b, 1, H, D, T)
    perm("v5", "V", [0, 2, 3, 1, 4]),
    ...(withK ? [perm("k5", "K", [0, 2, 3, 1, 4])] : []),
    node("MatMul", ["Qs", "Kt"], "S0"),
    node("Add", ["S0", "M"], "S"),
    node("Softmax", ["S"], "P", [{ name: "axis", int: -1 }]),
  ];
}

function forwardGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [QKV, MASK, SCALE],
    outputs: [Y("Y")],
    nodes: [
      ...unpackAndProbs(false),
      node("MatMul", ["P", "V"], "Yi"), // (b, 1, H, T, D)
      perm("Yi", "Y", [0, 3, 1, 2, 4]), // (b, T, 1, H, D)
    ],
  });
}

/**
 * With dS = P ⊙ (dP − rowsum(dY ⊙ Y)), dP = dY·Vᵀ: dQ = dS·K·scale, dK = dSᵀ·(Q·scale), dV = Pᵀ·dY.
 * rowsum(P ⊙ dP) equals rowsum(dY ⊙ Y) (FlashAttention's trick), a (b,H,T,D) product, not (b,H,T,T).
 */
function backwardGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [QKV, MASK, SCALE, Y("Y"), Y("dY")],
    outputs: [f32("dQKV", ["b", "t", 3, "h", "d"])],
    initializers: [{ name: "last", dims: [1], data: BigInt64Array.of(-1n) }],
    nodes: [
      ...unpackAndProbs(true),
      node("Mul", ["dY", "Y"], "dYY"),
      { ...node("ReduceSum", ["dYY", "last"], "Dr0"), attributes: [{ name: "keepdims", int: 1 }] }, // (b,T,1,H,1)
      perm("Dr0", "Dr", [0, 2, 3, 1, 4]), // (b, 1, H, T, 1)
      perm("dY", "dYi", [0, 2, 3, 1, 4]), // (b, 1, H, T, D)
      perm("V", "Vt", [0, 1, 2, 4, 3]),
      node("MatMul", ["dYi", "Vt"], "dP"),
      node("Sub", ["dP", "Dr"], "dP1"),
      node("Mul", ["P", "dP1"], "dS"),
      node("MatMul", ["dS", "K"], "dQ0"),
      node("Mul", ["dQ0", "scale"], "dQ"),
      perm("dS", "dSt", [0, 1, 2, 4, 3]),
      node("MatMul", ["dSt", "Qs"], "dK"),
      perm("P", "Pt", [0, 1, 2, 4, 3]),
      node("MatMul", ["Pt", "dYi"], "dV"),
      { op: "Concat", inputs: ["dQ", "dK", "dV"], outputs: ["dI"], attributes: [{ name: "axis", int: 1 }] },
      perm("dI", "dQKV", [0, 3, 1, 2, 4]), // (b, 3, H, T, D) → (b, T, 3, H, D)
    ],
  });
}

/** Additive key mask (B, 1, 1, T): 0 for a token, −1e30 (finite: no NaN) for padding. */
export function keyMask(attention: Int32Array | Uint8Array | undefined, batch: number, t: number): Float32Array {
  const m = new Float32Array(batch * t);
  if (attention) for (let i = 0; i < m.length; i++) m[i] = attention[i] ? 0 : -1e30;
  return m;
}

/** Sequences per call so that b·H·T·T ≤ SLAB_VALUES (at least one). */
function slabRows(x: PackedAttentionDims): number {
  return Math.max(1, Math.floor(SLAB_VALUES / (x.heads * x.t * x.t)));
}

/** y (B, T, H·D) = attention of packed qkv (B, T, 3·H·D) under the additive key mask (B, T). */
export function ortPackedAttention(
  qkv: Float32Array,
  mask: Float32Array,
  x: PackedAttentionDims,
  y: Float32Array,
): void {
  const { t, heads: h, d } = x;
  const rows = slabRows(x);
  const scale = { data: Float32Array.of(1 / Math.sqrt(d)), dims: [1] };
  for (let b0 = 0; b0 < x.batch; b0 += rows) {
    const b = Math.min(rows, x.batch - b0);
    const per = t * h * d;
    runOnnxModel(
      "bert-attention-fwd",
      forwardGraph,
      {
        QKV: { data: qkv.subarray(b0 * 3 * per, (b0 + b) * 3 * per), dims: [b, t, 3, h, d] },
        M: { data: mask.subarray(b0 * t, (b0 + b) * t), dims: [b, 1, 1, 1, t] },
        scale,
      },
      { Y: { data: y.subarray(b0 * per, (b0 + b) * per), dims: [b, t, 1, h, d] } },
    );
  }
}

/** dqkv (B, T, 3·H·D) from dy and the forward's output y (both (B, T, H·D)). */
export function ortPackedAttentionBackward(
  qkv: Float32Array,
  mask: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  x: PackedAttentionDims,
  dqkv: Float32Array,
): void {
  const { t, heads: h, d } = x;
  const rows = slabRows(x);
  const scale = { data: Float32Array.of(1 / Math.sqrt(d)), dims: [1] };
  for (let b0 = 0; b0 < x.batch; b0 += rows) {
    const b = Math.min(rows, x.batch - b0);
    const per = t * h * d;
    const part = (a: Float32Array, n: number) => a.subarray(b0 * n * per, (b0 + b) * n * per);
    runOnnxModel(
      "bert-attention-bwd",
      backwardGraph,
      {
        QKV: { data: part(qkv, 3), dims: [b, t, 3, h, d] },
        M: { data: mask.subarray(b0 * t, (b0 + b) * t), dims: [b, 1, 1, 1, t] },
        scale,
        Y: { data: part(y, 1), dims: [b, t, 1, h, d] },
        dY: { data: part(dy, 1), dims: [b, t, 1, h, d] },
      },
      { dQKV: { data: part(dqkv, 3), dims: [b, t, 3, h, d] } },
    );
  }
}
