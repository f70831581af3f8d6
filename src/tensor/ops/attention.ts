// Scaled dot-product attention with grouped-query heads, and the additive masks it takes (causal,
// padding). Built from matmul/softmax so autograd gives the backward; holds (B, H, T, S) probabilities.
import { Tensor } from "../tensor.js";
import { shapeError } from "../shape.js";
import { add, scale } from "./elementwise.js";
import { matmul } from "./matmul.js";
import { reshape } from "./layout.js";
import { softmax } from "./softmax.js";

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
  /** Added to the scores; broadcastable to (B, Hq, T, S). */
  mask?: Tensor;
  /** Adds causalMask(T, S). */
  causal?: boolean;
  /** Score scale; default 1/√D. */
  scale?: number;
}

/**
 * softmax(q·kᵀ·scale + mask)·v. q (B, Hq, T, D); k, v (B, Hkv, S, D) with Hq a multiple of Hkv:
 * query head h reads key/value head ⌊h / (Hq/Hkv)⌋, as llama.cpp and Hugging Face group them.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw shapeError(
      "attention",
      "q, k, v must be (B, H, T, D)",
      [q.shape, k.shape, v.shape],
      "reshape to (batch, heads, tokens, head_dim)",
    );
  }
  const [b, hq, t, d] = q.shape as [number, number, number, number];
  const [bk, hkv, s, dk] = k.shape as [number, number, number, number];
  const ok = bk === b && dk === d && hq % hkv === 0 && v.shape[0] === b && v.shape[1] === hkv && v.shape[2] === s;
  if (!ok) {
    throw shapeError(
      "attention",
      "q, k, v disagree in batch, head dim or heads (Hq must be a multiple of Hkv)",
      [q.shape, k.shape, v.shape],
      "k and v need the same (B, Hkv, S) and q's D",
    );
  }
  const group = hq / hkv;
  const dv = v.shape[3]!;
  const qg = reshape(q, [b, hkv, group * t, d]); // (B, Hkv, G·T, D): a group's heads are adjacent
  let scores = matmul(qg, k, { transB: true }); // (B, Hkv, G·T, S)
  scores = scale(scores, options.scale ?? 1 / Math.sqrt(d));
  scores = reshape(scores, [b, hq, t, s]); // (B, Hq, T, S)
  if (options.mask) scores = add(scores, options.mask);
  if (options.causal) scores = add(scores, causalMask(t, s));
  const probs = reshape(softmax(scores, -1), [b, hkv, group * t, s]);
  const out = matmul(probs, v); // (B, Hkv, G·T, Dv)
  return reshape(out, [b, hq, t, dv]);
}
