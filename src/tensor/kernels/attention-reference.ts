// Grouped-query attention forward and backward as plain TypeScript loops: the reference the native
// graphs (attention-ort.ts) are tested against, and the faster path for tiny shapes. Backward
// recomputes each probability row from q and k instead of keeping (B, H, T, S) probabilities.
// Shapes: B batch, H query heads, Hkv kv heads, G = H/Hkv, T queries, S keys, D head size, Dv value size.

/** Where heads sit: (B, H, T, D) "bhtd", or (B, T, H, D) "bthd" (a linear layer's output as is). */
export type HeadOrder = "bhtd" | "bthd";

export interface AttentionDims {
  batch: number;
  kvHeads: number;
  /** Query heads per kv head (G); query head h reads kv head ⌊h / G⌋. */
  group: number;
  t: number;
  s: number;
  d: number;
  dv: number;
  scale: number;
  order: HeadOrder;
  /** Rows of the mask: 1 (shared by the batch) or B. */
  maskBatch: number;
}

/** The combined additive mask (maskBatch, T, S), hidden keys = MASKED, and 1/0 per query row (maskBatch, T). */
export interface AttentionMask {
  add: Float32Array;
  rowKeep: Float32Array;
}

/** A hidden key's score: finite so a fully hidden row gives no NaN natively; its row is zeroed by rowKeep. */
export const MASKED = -1e30;

/** Element offset of (b, head, position) for a (B, heads, len, dim) tensor stored in `order`. */
function strides(order: HeadOrder, heads: number, len: number, dim: number): [number, number, number] {
  return order === "bhtd" ? [heads * len * dim, len * dim, dim] : [len * heads * dim, dim, heads * dim];
}

interface Views {
  q: [number, number, number];
  k: [number, number, number];
  v: [number, number, number];
}

function views(x: AttentionDims): Views {
  const h = x.kvHeads * x.group;
  return {
    q: strides(x.order, h, x.t, x.d),
    k: strides(x.order, x.kvHeads, x.s, x.d),
    v: strides(x.order, x.kvHeads, x.s, x.dv),
  };
}

/** p (S) = rowKeep · softmax(q_row·kᵀ·scale + mask_row). */
function probs(
  q: Float32Array,
  qo: number,
  k: Float32Array,
  ko: number,
  ks: number,
  maskRow: Float32Array,
  mo: number,
  keep: number,
  x: AttentionDims,
  p: Float64Array,
): void {
  if (keep === 0) {
    p.fill(0);
    return;
  }
  let max = -Infinity;
  for (let j = 0; j < x.s; j++) {
    let dot = 0;
    const kj = ko + j * ks;
    for (let c = 0; c < x.d; c++) dot += q[qo + c]! * k[kj + c]!;
    const v = dot * x.scale + maskRow[mo + j]!;
    p[j] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let j = 0; j < x.s; j++) {
    const e = Math.exp(p[j]! - max);
    p[j] = e;
    sum += e;
  }
  for (let j = 0; j < x.s; j++) p[j]! /= sum;
}

/** out (query layout, Dv) = softmax(q·kᵀ·scale + mask)·v. */
export function referenceAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: AttentionMask,
  x: AttentionDims,
  out: Float32Array,
): void {
  const w = views(x);
  const o = strides(x.order, x.kvHeads * x.group, x.t, x.dv);
  const p = new Float64Array(x.s);
  for (let b = 0; b < x.batch; b++) {
    const mb = x.maskBatch === 1 ? 0 : b;
    for (let h = 0; h < x.kvHeads * x.group; h++) {
      const kh = Math.floor(h / x.group);
      const ko = b * w.k[0] + kh * w.k[1];
      const vo = b * w.v[0] + kh * w.v[1];
      for (let i = 0; i < x.t; i++) {
        const qo = b * w.q[0] + h * w.q[1] + i * w.q[2];
        probs(q, qo, k, ko, w.k[2], mask.add, (mb * x.t + i) * x.s, mask.rowKeep[mb * x.t + i]!, x, p);
        const oo = b * o[0] + h * o[1] + i * o[2];
        for (let c = 0; c < x.dv; c++) out[oo + c] = 0;
        for (let j = 0; j < x.s; j++) {
          const pj = p[j]!;
          if (pj === 0) continue;
          const vj = vo + j * w.v[2];
          for (let c = 0; c < x.dv; c++) out[oo + c]! += pj * v[vj + c]!;
        }
      }
    }
  }
}

/** dq, dk, dv (zeroed here, layouts of q, k, v) from dy (layout of the output). */
export function referenceAttentionBackward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: AttentionMask,
  dy: Float32Array,
  x: AttentionDims,
  grads: { dq: Float32Array; dk: Float32Array; dv: Float32Array },
): void {
  const { dq, dk, dv } = grads;
  dq.fill(0);
  dk.fill(0);
  dv.fill(0);
  const w = views(x);
  const o = strides(x.order, x.kvHeads * x.group, x.t, x.dv);
  const p = new Float64Array(x.s);
  const dp = new Float64Array(x.s);
  for (let b = 0; b < x.batch; b++) {
    const mb = x.maskBatch === 1 ? 0 : b;
    for (let h = 0; h < x.kvHeads * x.group; h++) {
      const kh = Math.floor(h / x.group);
      const ko = b * w.k[0] + kh * w.k[1];
      const vo = b * w.v[0] + kh * w.v[1];
      for (let i = 0; i < x.t; i++) {
        const keep = mask.rowKeep[mb * x.t + i]!;
        if (keep === 0) continue; // a fully hidden row is 0 whatever q, k, v are
        const qo = b * w.q[0] + h * w.q[1] + i * w.q[2];
        const oo = b * o[0] + h * o[1] + i * o[2];
        probs(q, qo, k, ko, w.k[2], mask.add, (mb * x.t + i) * x.s, keep, x, p);
        let dot = 0; // Σ_j p_j · dp_j
        for (let j = 0; j < x.s; j++) {
          const vj = vo + j * w.v[2];
          let acc = 0;
          for (let c = 0; c < x.dv; c++) acc += dy[oo + c]! * v[vj + c]!;
          dp[j] = acc;
          dot += p[j]! * acc;
          for (let c = 0; c < x.dv; c++) dv[vj + c]! += p[j]! * dy[oo + c]!;
        }
        for (let j = 0; j < x.s; j++) {
          const ds = p[j]! * (dp[j]! - dot) * x.scale; // softmax backward, then the score scale
          if (ds === 0) continue;
          const kj = ko + j * w.k[2];
          for (let c = 0; c < x.d; c++) {
            dq[qo + c]! += ds * k[kj + c]!;
            dk[kj + c]! += ds * q[qo + c]!;
          }
        }
      }
    }
  }
}
