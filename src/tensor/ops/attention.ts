// Scaled dot-product attention with grouped-query heads as one fused op (forward and backward each one
// kernel call: onnxruntime graphs, or TypeScript loops for tiny shapes), and the additive masks it
// takes (causal, padding). Backward recomputes the probabilities; no (B, H, T, S) array is kept.
import { alloc, allocZeroed } from "../arena.js";
import { Tensor, withGrad } from "../tensor.js";
import { shapeError } from "../shape.js";
import { fastPathFor } from "../kernels/kernel.js";
import {
  MASKED,
  referenceAttention,
  referenceAttentionBackward,
  type AttentionDims,
  type AttentionMask,
  type HeadOrder,
} from "../kernels/attention-reference.js";
import { ortAttention, ortAttentionBackward } from "../kernels/attention-ort.js";

export type { HeadOrder } from "../kernels/attention-reference.js";

/** Below this many multiply-adds (B·H·T·S·(D + Dv)) the TypeScript loops beat a native call. */
export const ATTENTION_MIN_WORK = 32 * 1024;

/** Additive causal mask (T, S): query i sees keys j ≤ i + (S − T) (the last T of S positions). */
export function causalMask(t: number, s = t): Tensor {
  const m = new Float32Array(t * s);
  const offset = s - t;
  for (let i = 0; i < t; i++) for (let j = i + offset + 1; j < s; j++) m[i * s + j] = -Infinity;
  return new Tensor(m, [t, s]);
}

/** Additive padding mask (B, 1, 1, S) from a 0/1 attention mask (B, S): 0 keeps, −∞ hides a key. */
export function paddingMask(attention: Int32Array | Uint8Array, batch: number, s: number): Tensor {
  if (attention.length !== batch * s) {
    throw shapeError(
      "paddingMask",
      `${attention.length} mask values for batch ${batch} × ${s} keys`,
      [[attention.length]],
      "give one 0/1 per key per sequence",
    );
  }
  return new Tensor(
    Float32Array.from(attention, (v) => (v ? 0 : -Infinity)),
    [batch, 1, 1, s],
  );
}

export interface AttentionOptions {
  /** Added to the scores; broadcastable to (B, 1, T, S) (one mask for every head). Gets no gradient. */
  mask?: Tensor;
  /** Adds causalMask(T, S). */
  causal?: boolean;
  /** Score scale; default 1/√D. */
  scale?: number;
  /** "bhtd" (default): q (B, Hq, T, D), k/v (B, Hkv, S, ·). "bthd": q (B, T, Hq, D), k/v (B, S, Hkv, ·), output too. */
  order?: HeadOrder;
}

/**
 * softmax(q·kᵀ·scale + mask)·v with Hq a multiple of Hkv: query head h reads key/value head
 * ⌊h / (Hq/Hkv)⌋, as llama.cpp and Hugging Face group them. A query row whose keys are all hidden
 * gives zeros (padding rows). Output in q's order with v's last dim.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const order = options.order ?? "bhtd";
  const x = checkShapes(q, k, v, order, options.scale);
  const mask = combinedMask(options.mask, options.causal ?? false, x);
  const ort = fastPathFor(x.batch * x.kvHeads * x.group * x.t * x.s * (x.d + x.dv), ATTENTION_MIN_WORK) === "ort";
  const out = alloc((q.size / x.d) * x.dv);
  const [qd, kd, vd] = [q.data, k.data, v.data];
  (ort ? ortAttention : referenceAttention)(qd, kd, vd, mask, x, out);
  const outShape = [...q.shape.slice(0, 3), x.dv];
  return withGrad(new Tensor(out, outShape), "attention", [q, k, v], (g) => {
    const make = ort ? alloc : allocZeroed; // the TypeScript loops add into the gradients
    const grads = { dq: make(qd.length), dk: make(kd.length), dv: make(vd.length) };
    (ort ? ortAttentionBackward : referenceAttentionBackward)(qd, kd, vd, mask, g, x, grads);
    return [grads.dq, grads.dk, grads.dv];
  });
}

function checkShapes(q: Tensor, k: Tensor, v: Tensor, order: HeadOrder, scale: number | undefined): AttentionDims {
  const want = order === "bhtd" ? "(B, H, T, D)" : "(B, T, H, D)";
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw shapeError("attention", `q, k, v must be ${want}`, [q.shape, k.shape, v.shape], `reshape to ${want}`);
  }
  const [hAx, tAx] = order === "bhtd" ? [1, 2] : [2, 1];
  const [b, hq, t, d] = [q.shape[0]!, q.shape[hAx]!, q.shape[tAx]!, q.shape[3]!];
  const [hkv, s] = [k.shape[hAx]!, k.shape[tAx]!];
  const ok =
    k.shape[0] === b &&
    k.shape[3] === d &&
    hkv > 0 &&
    hq % hkv === 0 &&
    v.shape[0] === b &&
    v.shape[hAx] === hkv &&
    v.shape[tAx] === s;
  if (!ok) {
    throw shapeError(
      "attention",
      "q, k, v disagree in batch, head dim or heads (Hq must be a multiple of Hkv)",
      [q.shape, k.shape, v.shape],
      "k and v need the same batch, kv heads and keys, and k q's D",
    );
  }
  const dims = { batch: b, kvHeads: hkv, group: hq / hkv, t, s, d, dv: v.shape[3]!, order, maskBatch: 1 };
  return { ...dims, scale: scale ?? 1 / Math.sqrt(d) };
}

/**
 * The additive mask (maskBatch, T, S) (hidden keys MASKED) and per-row keep flags (maskBatch, T) the
 * attention kernels use for `user` (broadcastable to (B, 1, T, S)) plus the causal mask: for callers
 * that run attention inside their own graphs (train/'s fused block) and must mask exactly as it does.
 */
export function attentionMaskArrays(
  user: Tensor | undefined,
  causal: boolean,
  dims: { batch: number; t: number; s: number },
): AttentionMask & { maskBatch: number } {
  const x: AttentionDims = { ...dims, kvHeads: 1, group: 1, d: 1, dv: 1, scale: 1, order: "bthd", maskBatch: 1 };
  const mask = combinedMask(user, causal, x);
  return { ...mask, maskBatch: x.maskBatch };
}

// The last few combined masks: every block of a forward pass passes the same mask tensor.
const maskCache: { key: Tensor | null; causal: boolean; t: number; s: number; mask: AttentionMask }[] = [];

/** The user mask (+ causal) as (maskBatch, T, S) additive values with MASKED for hidden keys. */
function combinedMask(user: Tensor | undefined, causal: boolean, x: AttentionDims): AttentionMask {
  const { t, s } = x;
  const mb = user && user.ndim === 4 ? user.shape[0]! : 1;
  if (user && !maskFits(user, x)) {
    throw shapeError(
      "attention",
      `mask must broadcast to (B, 1, T, S) = (${x.batch}, 1, ${t}, ${s})`,
      [user.shape],
      "give one additive mask for every head, e.g. paddingMask(…) of shape (B, 1, 1, S)",
    );
  }
  x.maskBatch = mb;
  const hit = maskCache.find((c) => c.key === (user ?? null) && c.causal === causal && c.t === t && c.s === s);
  if (hit) return hit.mask;
  const add = new Float32Array(mb * t * s);
  const rowKeep = new Float32Array(mb * t);
  const strides = user ? broadcastStrides4(user.shape, [mb, 1, t, s]) : [0, 0, 0, 0];
  const ud = user?.data;
  for (let b = 0; b < mb; b++) {
    for (let i = 0; i < t; i++) {
      let seen = false;
      for (let j = 0; j < s; j++) {
        let m = ud ? ud[b * strides[0]! + i * strides[2]! + j * strides[3]!]! : 0;
        if (causal && j > i + s - t) m = -Infinity;
        const hidden = m <= MASKED;
        add[(b * t + i) * s + j] = hidden ? MASKED : m;
        if (!hidden) seen = true;
      }
      rowKeep[b * t + i] = seen ? 1 : 0;
    }
  }
  const mask = { add, rowKeep };
  maskCache.unshift({ key: user ?? null, causal, t, s, mask });
  maskCache.length = Math.min(maskCache.length, 4);
  return mask;
}

function maskFits(m: Tensor, x: AttentionDims): boolean {
  if (m.ndim > 4) return false;
  const full = [...new Array<number>(4 - m.ndim).fill(1), ...m.shape];
  const ok = (dim: number, want: number) => dim === 1 || dim === want;
  return ok(full[0]!, x.batch) && full[1] === 1 && ok(full[2]!, x.t) && ok(full[3]!, x.s);
}

/** Strides of a mask (rank ≤ 4) read as (mb, 1, T, S), 0 on broadcast dims. */
function broadcastStrides4(shape: readonly number[], target: number[]): number[] {
  const full = [...new Array<number>(4 - shape.length).fill(1), ...shape];
  const own = [full[1]! * full[2]! * full[3]!, full[2]! * full[3]!, full[3]!, 1];
  return target.map((_, i) => (full[i] === 1 ? 0 : own[i]!));
}
