// Q5_K and Q6_K encoders in llama.cpp's block layouts (ggml-common.h's block_q5_K, block_q6_K), for
// export; the decoders are the tensor engine's (bit-exact with ggml). Q4_K's encoder is the engine's.
// The fits are plain min/max (Q5_K) and max-abs (Q6_K) per sub-block, not ggml's iterative search
// (make_qkx2_quants / make_qx_quants): a little more error, the same format. Leaves out imatrix.
import { F16_TABLE, f32ToF16 } from "../../tensor/quant/half.js";

const QK_K = 256;
/** block_q5_K: d, dmin (f16), 12 bytes of 6-bit scales and mins, qh[32], qs[128]. */
export const Q5_K_BYTES = 2 + 2 + 12 + QK_K / 8 + QK_K / 2;
/** block_q6_K: ql[128], qh[64], int8 scales[16], d (f16). */
export const Q6_K_BYTES = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2;

const putF16 = (out: Uint8Array, at: number, v: number): number => {
  const h = f32ToF16(v);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
  return F16_TABLE[h]!;
};

/** The 8 six-bit scales and mins packed into 12 bytes at `at`, as get_scale_min_k4 reads them. */
function packScaleMinK4(out: Uint8Array, at: number, ls: Uint8Array, lm: Uint8Array): void {
  out.fill(0, at, at + 12);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      out[at + j] = ls[j]!;
      out[at + j + 4] = lm[j]!;
    } else {
      out[at + j + 4] = (ls[j]! & 0x0f) | ((lm[j]! & 0x0f) << 4);
      out[at + j - 4]! |= (ls[j]! >> 4) << 6;
      out[at + j]! |= (lm[j]! >> 4) << 6;
    }
  }
}

/** x (a multiple of 256 values) → Q5_K blocks: x ≈ d·sc·q − dmin·m, q in 0…31, per 32-value sub-block. */
export function quantizeQ5_K(x: Float32Array, out: Uint8Array): void {
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  const ls = new Uint8Array(8);
  const lm = new Uint8Array(8);
  for (let b = 0; b < x.length / QK_K; b++) {
    const base = b * QK_K;
    for (let j = 0; j < 8; j++) {
      let lo = 0; // the min is clamped to ≤ 0, as ggml does
      let hi = -Infinity;
      for (let i = 0; i < 32; i++) {
        const v = x[base + j * 32 + i]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      scales[j] = Math.max(0, hi - lo) / 31;
      mins[j] = -lo;
    }
    const at = b * Q5_K_BYTES;
    const dq = putF16(out, at, scales.reduce((m, v) => Math.max(m, v), 0) / 63);
    const mq = putF16(out, at + 2, mins.reduce((m, v) => Math.max(m, v), 0) / 63);
    for (let j = 0; j < 8; j++) {
      ls[j] = dq ? Math.min(63, Math.round(scales[j]! / dq)) : 0;
      lm[j] = mq ? Math.min(63, Math.round(mins[j]! / mq)) : 0;
    }
    packScaleMinK4(out, at + 4, ls, lm);
    const qh = at + 16;
    const qs = qh + 32;
    out.fill(0, qh, qh + 32);
    for (let chunk = 0; chunk < 4; chunk++) {
      for (let h = 0; h < 2; h++) {
        const j = 2 * chunk + h;
        const step = dq * ls[j]!;
        const off = mq * lm[j]!;
        for (let l = 0; l < 32; l++) {
          const v = x[base + j * 32 + l]!;
          const q = step ? Math.max(0, Math.min(31, Math.round((v + off) / step))) : 0;
          const o = qs + chunk * 32 + l;
          out[o] = h === 0 ? q & 0x0f : out[o]! | ((q & 0x0f) << 4);
          out[qh + l]! |= (q >> 4) << (2 * chunk + h);
        }
      }
    }
  }
}

/** x (a multiple of 256 values) → Q6_K blocks: x ≈ d·sc·(q − 32), q in 0…63, an int8 scale per 16 values. */
export function quantizeQ6_K(x: Float32Array, out: Uint8Array): void {
  const sub = new Float32Array(16);
  for (let b = 0; b < x.length / QK_K; b++) {
    const base = b * QK_K;
    for (let j = 0; j < 16; j++) {
      let amax = 0;
      for (let i = 0; i < 16; i++) amax = Math.max(amax, Math.abs(x[base + 16 * j + i]!));
      sub[j] = amax / 31;
    }
    const at = b * Q6_K_BYTES;
    const d = putF16(out, at + 208, sub.reduce((m, v) => Math.max(m, v), 0) / 127);
    const sc = new Int8Array(out.buffer, out.byteOffset + at + 192, 16);
    for (let j = 0; j < 16; j++) sc[j] = d ? Math.min(127, Math.round(sub[j]! / d)) : 0;
    out.fill(0, at, at + 192);
    for (let half = 0; half < 2; half++) {
      const ql = at + 64 * half;
      const qh = at + 128 + 32 * half;
      for (let p = 0; p < 128; p++) {
        const j = half * 8 + (p >> 4);
        const step = d * sc[j]!;
        const v = x[base + half * 128 + p]!;
        const q = (step ? Math.max(-32, Math.min(31, Math.round(v / step))) : 0) + 32;
        const l = p & 31;
        const quarter = p >> 5; // 0: ql[l] low, 1: ql[l+32] low, 2: ql[l] high, 3: ql[l+32] high
        const byte = ql + l + (quarter & 1) * 32;
        out[byte]! |= (q & 0x0f) << (quarter >= 2 ? 4 : 0);
        out[qh + l]! |= (q >> 4) << (2 * quarter);
      }
    }
  }
}
