// Q4_K as GGUF/llama.cpp lays it out: 256-value super-blocks of 8 sub-blocks × 32, 144 bytes:
// d (f16) + dmin (f16) + 12 bytes of packed 6-bit sub-block scales and mins + 128 bytes of nibbles.
// x = d·sc·q − dmin·m. The quantizer is a plain min/max fit, not llama.cpp's iterative search.
import { F16_TABLE, f32ToF16 } from "./half.js";

export const Q4_K = { blockValues: 256, blockBytes: 2 + 2 + 12 + 128 } as const;

/** get_scale_min_k4 for all 8 sub-blocks: the 6-bit scales and mins packed in the 12 bytes at `at` (Q4_K, Q5_K). */
export function unpackScaleMinK4(src: Uint8Array, at: number, scales: Uint8Array, mins: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    scales[j] = src[at + j]! & 63;
    mins[j] = src[at + j + 4]! & 63;
  }
  for (let j = 4; j < 8; j++) {
    scales[j] = (src[at + j + 4]! & 0x0f) | ((src[at + j - 4]! >> 6) << 4);
    mins[j] = (src[at + j + 4]! >> 4) | ((src[at + j]! >> 6) << 4);
  }
}

const fr = Math.fround;
const kScales = new Uint8Array(8);
const kMins = new Uint8Array(8);

// As ggml-quants.c's dequantize_row_q4_K, in float32 arithmetic and order (bit-exact with llama.cpp).
export function dequantizeQ4_K(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q4_K.blockBytes;
    const d = F16_TABLE[src[at]! | (src[at + 1]! << 8)]!;
    const dmin = F16_TABLE[src[at + 2]! | (src[at + 3]! << 8)]!;
    unpackScaleMinK4(src, at + 4, kScales, kMins);
    const qs = at + 16;
    let o = b * 256;
    for (let chunk = 0; chunk < 4; chunk++) {
      // 64 values: 32 low nibbles use sub-block 2·chunk, 32 high nibbles sub-block 2·chunk+1.
      const d1 = fr(d * kScales[2 * chunk]!);
      const m1 = fr(dmin * kMins[2 * chunk]!);
      const d2 = fr(d * kScales[2 * chunk + 1]!);
      const m2 = fr(dmin * kMins[2 * chunk + 1]!);
      const q = qs + chunk * 32;
      for (let l = 0; l < 32; l++) out[o + l] = fr(d1 * (src[q + l]! & 0x0f)) - m1;
      for (let l = 0; l < 32; l++) out[o + 32 + l] = fr(d2 * (src[q + l]! >> 4)) - m2;
      o += 64;
    }
  }
}

export function quantizeQ4_K(x: Float32Array, out: Uint8Array): void {
  const blocks = x.length / 256;
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let b = 0; b < blocks; b++) {
    const base = b * 256;
    for (let j = 0; j < 8; j++) {
      let lo = 0; // the min is clamped to ≤ 0, as llama.cpp does
      let hi = -Infinity;
      for (let i = 0; i < 32; i++) {
        const v = x[base + j * 32 + i]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      scales[j] = (hi - lo) / 15;
      mins[j] = -lo;
    }
    const maxScale = Math.max(...scales);
    const maxMin = Math.max(...mins);
    const d = maxScale / 63;
    const dmin = maxMin / 63;
    const at = b * Q4_K.blockBytes;
    const hd = f32ToF16(d);
    const hm = f32ToF16(dmin);
    out[at] = hd & 0xff;
    out[at + 1] = hd >> 8;
    out[at + 2] = hm & 0xff;
    out[at + 3] = hm >> 8;
    const dq = F16_TABLE[hd]!;
    const mq = F16_TABLE[hm]!;
    const ls = new Uint8Array(8);
    const lm = new Uint8Array(8);
    for (let j = 0; j < 8; j++) {
      ls[j] = dq ? Math.min(63, Math.round(scales[j]! / dq)) : 0;
      lm[j] = mq ? Math.min(63, Math.round(mins[j]! / mq)) : 0;
    }
    const sc = at + 4;
    out.fill(0, sc, sc + 12);
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        out[sc + j] = ls[j]!;
        out[sc + j + 4] = lm[j]!;
      } else {
        out[sc + j + 4] = (ls[j]! & 0x0f) | ((lm[j]! & 0x0f) << 4);
        out[sc + j - 4]! |= (ls[j]! >> 4) << 6;
        out[sc + j]! |= (lm[j]! >> 4) << 6;
      }
    }
    const qs = at + 16;
    for (let chunk = 0; chunk < 4; chunk++) {
      const levels = [0, 1].map((h) => {
        const j = 2 * chunk + h;
        const step = dq * ls[j]!;
        const off = mq * lm[j]!;
        return Array.from({ length: 32 }, (_, l) => {
          const v = x[base + j * 32 + l]!;
          return step ? Math.max(0, Math.min(15, Math.round((v + off) / step))) : 0;
        });
      });
      for (let l = 0; l < 32; l++) out[qs + chunk * 32 + l] = levels[0]![l]! | (levels[1]![l]! << 4);
    }
  }
}
