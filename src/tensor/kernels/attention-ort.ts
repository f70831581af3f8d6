// Grouped-query attention as two onnxruntime graphs over every batch entry and head in one call:
// forward (QKᵀ·scale + mask → Softmax → ·V) and backward (probabilities recomputed, then dV, dQ, dK),
// so no (B, H, T, S) array lives between the two. Inside, heads are (B, Hkv, G, T, ·) and one kv head
// broadcasts over its G query heads; "bthd" inputs are transposed in the graph, not copied in TypeScript.
import { encodeOnnxModel, type OnnxNode } from "./onnx-model.js";
import { runOnnxModel } from "./ort.js";
import type { AttentionDims, AttentionMask, HeadOrder } from "./attention-reference.js";

/** Input dims of Q (B, H=Hkv·G, T, D) and K/V (B, Hkv, S, ·) with the group axis made explicit. */
function ioDims(order: HeadOrder, len: string, group: string, dim: string): string[] {
  return order === "bhtd" ? ["b", "hkv", group, len, dim] : ["b", len, "hkv", group, dim];
}

const TO_INNER = [0, 2, 3, 1, 4]; // (B, T, Hkv, G, ·) → (B, Hkv, G, T, ·)
const TO_OUTER = [0, 3, 1, 2, 4]; // and back
const SWAP_LAST = [0, 1, 2, 4, 3];

const transpose = (from: string, to: string, perm: number[]): OnnxNode => ({
  op: "Transpose",
  inputs: [from],
  outputs: [to],
  attributes: [{ name: "perm", ints: perm }],
});

/** Nodes bringing named "bthd" inputs to (B, Hkv, G, T, ·); for "bhtd" they already are (Identity). */
function toInner(order: HeadOrder, names: string[]): OnnxNode[] {
  return names.map((n) =>
    order === "bhtd" ? { op: "Identity", inputs: [n], outputs: [`${n}i`] } : transpose(n, `${n}i`, TO_INNER),
  );
}

function toOuter(order: HeadOrder, pairs: [string, string][]): OnnxNode[] {
  return pairs.map(([inner, out]) =>
    order === "bhtd" ? { op: "Identity", inputs: [inner], outputs: [out] } : transpose(inner, out, TO_OUTER),
  );
}

/**
 * P = [rowKeep ·] softmax(Qs·Kiᵀ + M): (B, Hkv, G, T, S), with Qs = Qi·scale (the scale on the (T, D)
 * queries, not on the (T, S) scores). rowKeep only when some query row has every key hidden (a padding
 * row): with none, its (T, S) product is skipped.
 */
function probNodes(keepAll: boolean): OnnxNode[] {
  return [
    { op: "Mul", inputs: ["Qi", "scale"], outputs: ["Qs"] },
    transpose("Ki", "Kt", SWAP_LAST),
    { op: "MatMul", inputs: ["Qs", "Kt"], outputs: ["S0"] },
    { op: "Add", inputs: ["S0", "M"], outputs: ["S1"] },
    { op: "Softmax", inputs: ["S1"], outputs: [keepAll ? "P" : "P0"], attributes: [{ name: "axis", int: -1 }] },
    ...(keepAll ? [] : [{ op: "Mul", inputs: ["P0", "R"], outputs: ["P"] }]),
  ];
}

function commonInputs(order: HeadOrder, keepAll: boolean) {
  return [
    { name: "Q", type: "float" as const, dims: ioDims(order, "t", "g", "d") },
    { name: "K", type: "float" as const, dims: ioDims(order, "s", "one", "d") },
    { name: "V", type: "float" as const, dims: ioDims(order, "s", "one", "dv") },
    { name: "M", type: "float" as const, dims: ["mb", 1, 1, "t", "s"] },
    ...(keepAll ? [] : [{ name: "R", type: "float" as const, dims: ["mb", 1, 1, "t", 1] }]),
    { name: "scale", type: "float" as const, dims: [1] },
  ];
}

function forwardGraph(order: HeadOrder, keepAll: boolean): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: commonInputs(order, keepAll),
    outputs: [{ name: "Y", type: "float", dims: ioDims(order, "t", "g", "dv") }],
    nodes: [
      ...toInner(order, ["Q", "K", "V"]),
      ...probNodes(keepAll),
      { op: "MatMul", inputs: ["P", "Vi"], outputs: ["Yi"] },
      ...toOuter(order, [["Yi", "Y"]]),
    ],
  });
}

/** (B, Hkv, 1, ·, S) → the layout of K or V: (B, S, Hkv, 1, ·) for "bthd", (B, Hkv, 1, S, ·) for "bhtd". */
const FROM_TRANSPOSED_KV = { bthd: [0, 4, 1, 2, 3], bhtd: SWAP_LAST } as const;
/** Q or dY → (B, Hkv, G, ·, T). */
const TO_TRANSPOSED = { bthd: [0, 2, 3, 4, 1], bhtd: SWAP_LAST } as const;

/**
 * dS = P ⊙ (dP − Σ_s P·dP) with dP = dY·Vᵀ (the score scale rides on the small factors: Qs, and dQ's
 * product); dQ = dS·K·scale, dKᵀ = Σ_G Qsᵀ·dS, dVᵀ = Σ_G dYᵀ·P. The K and V gradients come out
 * transposed, (D, S) per head, so no (T, S) array is transposed: only Q, dY and the small results are.
 */
function backwardGraph(order: HeadOrder, keepAll: boolean): Uint8Array {
  const mm = (a: string, b: string, out: string): OnnxNode => ({ op: "MatMul", inputs: [a, b], outputs: [out] });
  const sumGroups = (from: string, to: string): OnnxNode => ({
    op: "ReduceSum",
    inputs: [from, "axisG"],
    outputs: [to],
    attributes: [{ name: "keepdims", int: 1 }],
  });
  return encodeOnnxModel({
    opset: 17,
    inputs: [...commonInputs(order, keepAll), { name: "dY", type: "float", dims: ioDims(order, "t", "g", "dv") }],
    outputs: [
      { name: "dQ", type: "float", dims: ioDims(order, "t", "g", "d") },
      { name: "dK", type: "float", dims: ioDims(order, "s", "one", "d") },
      { name: "dV", type: "float", dims: ioDims(order, "s", "one", "dv") },
    ],
    initializers: [
      { name: "axisG", dims: [1], data: BigInt64Array.of(2n) },
      { name: "axisS", dims: [1], data: BigInt64Array.of(-1n) },
    ],
    nodes: [
      ...toInner(order, ["Q", "K", "V", "dY"]),
      ...probNodes(keepAll),
      transpose("Vi", "Vt", SWAP_LAST),
      mm("dYi", "Vt", "dP"),
      { op: "Mul", inputs: ["P", "dP"], outputs: ["PdP"] },
      { op: "ReduceSum", inputs: ["PdP", "axisS"], outputs: ["rs"], attributes: [{ name: "keepdims", int: 1 }] },
      { op: "Sub", inputs: ["dP", "rs"], outputs: ["dS0"] },
      { op: "Mul", inputs: ["P", "dS0"], outputs: ["dS"] },
      mm("dS", "Ki", "dQs"),
      { op: "Mul", inputs: ["dQs", "scale"], outputs: ["dQi"] },
      // a kv head's gradient sums over its G query heads
      transpose("Q", "Qt0", [...TO_TRANSPOSED[order]]),
      { op: "Mul", inputs: ["Qt0", "scale"], outputs: ["Qst"] },
      mm("Qst", "dS", "dKtg"),
      sumGroups("dKtg", "dKt"),
      transpose("dY", "dYt", [...TO_TRANSPOSED[order]]),
      mm("dYt", "P", "dVtg"),
      sumGroups("dVtg", "dVt"),
      ...toOuter(order, [["dQi", "dQ"]]),
      transpose("dKt", "dK", [...FROM_TRANSPOSED_KV[order]]),
      transpose("dVt", "dV", [...FROM_TRANSPOSED_KV[order]]),
    ],
  });
}

/** Whether every query row keeps a key (no rowKeep product needed); remembered per mask. */
const keepsAll = new WeakMap<Float32Array, boolean>();
function allRowsKept(mask: AttentionMask): boolean {
  let all = keepsAll.get(mask.rowKeep);
  if (all === undefined) keepsAll.set(mask.rowKeep, (all = mask.rowKeep.every((r) => r === 1)));
  return all;
}

function feeds(q: Float32Array, k: Float32Array, v: Float32Array, mask: AttentionMask, x: AttentionDims) {
  const qd = x.order === "bhtd" ? [x.batch, x.kvHeads, x.group, x.t, x.d] : [x.batch, x.t, x.kvHeads, x.group, x.d];
  const kd = (dim: number) =>
    x.order === "bhtd" ? [x.batch, x.kvHeads, 1, x.s, dim] : [x.batch, x.s, x.kvHeads, 1, dim];
  return {
    Q: { data: q, dims: qd },
    K: { data: k, dims: kd(x.d) },
    V: { data: v, dims: kd(x.dv) },
    M: { data: mask.add, dims: [x.maskBatch, 1, 1, x.t, x.s] },
    ...(allRowsKept(mask) ? {} : { R: { data: mask.rowKeep, dims: [x.maskBatch, 1, 1, x.t, 1] } }),
    scale: { data: Float32Array.of(x.scale), dims: [1] },
  };
}

function outDims(x: AttentionDims, len: number, group: number, dim: number): number[] {
  return x.order === "bhtd" ? [x.batch, x.kvHeads, group, len, dim] : [x.batch, len, x.kvHeads, group, dim];
}

/** Writes softmax(q·kᵀ·scale + mask)·v into `out` (the query layout with Dv). */
export function ortAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: AttentionMask,
  x: AttentionDims,
  out: Float32Array,
): void {
  const all = allRowsKept(mask);
  runOnnxModel(
    `attention-fwd-${x.order}${all ? "" : "-rows"}`,
    () => forwardGraph(x.order, all),
    feeds(q, k, v, mask, x),
    {
      Y: { data: out, dims: outDims(x, x.t, x.group, x.dv) },
    },
  );
}

/** Writes dq, dk, dv (layouts of q, k, v) from dy. */
export function ortAttentionBackward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: AttentionMask,
  dy: Float32Array,
  x: AttentionDims,
  grads: { dq: Float32Array; dk: Float32Array; dv: Float32Array },
): void {
  const f = { ...feeds(q, k, v, mask, x), dY: { data: dy, dims: outDims(x, x.t, x.group, x.dv) } };
  const all = allRowsKept(mask);
  runOnnxModel(`attention-bwd-${x.order}${all ? "" : "-rows"}`, () => backwardGraph(x.order, all), f, {
    dQ: { data: grads.dq, dims: outDims(x, x.t, x.group, x.d) },
    dK: { data: grads.dk, dims: outDims(x, x.s, 1, x.d) },
    dV: { data: grads.dv, dims: outDims(x, x.s, 1, x.dv) },
  });
}
