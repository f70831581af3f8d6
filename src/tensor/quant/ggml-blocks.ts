// Decoders for the GGML block types we hold as stored but do not write: Q4_1, Q5_0, Q5_1 (32 values per
// block), Q5_K, Q6_K and Q8_K (256-value super-blocks), in GGUF's byte layouts. Each follows ggml-quants.c's
// dequantize_row_* in float32 arithmetic and order (Math.fround where C rounds an intermediate to float),
// so values are bit-exact with llama.cpp (test/formats/gguf-quant.test.ts checks them through its get_rows).
// Leaves out quantizers: these types are storage-only here (see formats.ts).
import { F16_TABLE } from "./half.js";
import { unpackScaleMinK4 } from "./q4k.js";

const fr = Math.fround;

export const Q4_1 = { blockValues: 32, blockBytes: 2 + 2 + 16 } as const; // d, m: f16; qs: nibbles[16]
export const Q5_0 = { blockValues: 32, blockBytes: 2 + 4 + 16 } as const; // d: f16; qh: u32; qs: nibbles[16]
export const Q5_1 = { blockValues: 32, blockBytes: 2 + 2 + 4 + 16 } as const; // d, m: f16; qh: u32; qs[16]
export const Q5_K = { blockValues: 256, blockBytes: 2 + 2 + 12 + 32 + 128 } as const; // d, dmin, scales, qh, qs
export const Q6_K = { blockValues: 256, blockBytes: 128 + 64 + 16 + 2 } as const; // ql, qh, int8 scales, d
export const Q8_K = { blockValues: 256, blockBytes: 4 + 256 + 32 } as const; // d: f32, qs: int8[256], bsums

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

// Q4_1: x = q·d + m; byte j holds element j (low nibble) and j+16 (high nibble).
export function dequantizeQ4_1(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q4_1.blockBytes;
    const d = F16_TABLE[u16(src, at)]!;
    const m = F16_TABLE[u16(src, at + 2)]!;
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[at + 4 + j]!;
      out[o + j] = fr((q & 0x0f) * d) + m;
      out[o + 16 + j] = fr((q >> 4) * d) + m;
    }
  }
}

// Q5_0: x = (q − 16)·d with q's fifth bit for element j at bit j of qh.
export function dequantizeQ5_0(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q5_0.blockBytes;
    const d = F16_TABLE[u16(src, at)]!;
    const qh = u32(src, at + 2);
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[at + 6 + j]!;
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      out[o + j] = (((q & 0x0f) | xh0) - 16) * d;
      out[o + 16 + j] = (((q >> 4) | xh1) - 16) * d;
    }
  }
}

// Q5_1: x = q·d + m, q as in Q5_0 but unsigned.
export function dequantizeQ5_1(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q5_1.blockBytes;
    const d = F16_TABLE[u16(src, at)]!;
    const m = F16_TABLE[u16(src, at + 2)]!;
    const qh = u32(src, at + 4);
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[at + 8 + j]!;
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      out[o + j] = fr(((q & 0x0f) | xh0) * d) + m;
      out[o + 16 + j] = fr(((q >> 4) | xh1) * d) + m;
    }
  }
}

const kScales = new Uint8Array(8);
const kMins = new Uint8Array(8);

// Q5_K: as Q4_K (x = d·sc·q − dmin·m per 32-value sub-block) with a fifth bit per value in qh: chunk c of
// 64 values takes bit 2c (low nibbles) and 2c+1 (high nibbles) of qh[l].
export function dequantizeQ5_K(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q5_K.blockBytes;
    const d = F16_TABLE[u16(src, at)]!;
    const dmin = F16_TABLE[u16(src, at + 2)]!;
    unpackScaleMinK4(src, at + 4, kScales, kMins);
    const qh = at + 16;
    let ql = qh + 32;
    let o = b * 256;
    for (let chunk = 0; chunk < 4; chunk++) {
      const s1 = 2 * chunk; // qh bit of the low nibbles (llama.cpp's u1 = 1 << s1); s1 + 1 for the high ones
      const d1 = fr(d * kScales[2 * chunk]!);
      const m1 = fr(dmin * kMins[2 * chunk]!);
      const d2 = fr(d * kScales[2 * chunk + 1]!);
      const m2 = fr(dmin * kMins[2 * chunk + 1]!);
      // (qh & u ? 16 : 0) without a branch: random bits mispredict (8 → 3 ns per value)
      for (let l = 0; l < 32; l++)
        out[o + l] = fr(d1 * ((src[ql + l]! & 0x0f) | (((src[qh + l]! >> s1) & 1) << 4))) - m1;
      for (let l = 0; l < 32; l++) {
        out[o + 32 + l] = fr(d2 * ((src[ql + l]! >> 4) | (((src[qh + l]! >> (s1 + 1)) & 1) << 4))) - m2;
      }
      ql += 32;
      o += 64;
    }
  }
}

const k6Scales = new Float32Array(8);

// Q6_K: x = d·sc·(q − 32), q 6 bits (4 in ql, 2 in qh), an int8 scale per 16 values. Each half of 128
// values: ql[l] and ql[l+32] give the low nibbles of elements l, l+32 (low) and l+64, l+96 (high); qh[l]
// their top two bits in bits 0–1, 2–3, 4–5, 6–7.
export function dequantizeQ6_K(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  const sc8 = new Int8Array(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q6_K.blockBytes;
    const d = F16_TABLE[u16(src, at + 208)]!;
    let ql = at;
    let qh = at + 128;
    let sc = at + 192;
    let o = b * 256;
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < 8; i++) k6Scales[i] = d * sc8[sc + i]!; // fr(d·sc): stored as f32
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l]!;
        const a = src[ql + l]!;
        const c = src[ql + l + 32]!;
        out[o + l] = k6Scales[is]! * (((a & 0x0f) | ((h & 3) << 4)) - 32);
        out[o + l + 32] = k6Scales[is + 2]! * (((c & 0x0f) | (((h >> 2) & 3) << 4)) - 32);
        out[o + l + 64] = k6Scales[is + 4]! * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
        out[o + l + 96] = k6Scales[is + 6]! * (((c >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
      o += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

// Q8_K: x = d·q with an f32 d per 256 values (bsums, the per-16 sums llama.cpp's dot products use, unread).
export function dequantizeQ8_K(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  const q = new Int8Array(src.buffer, src.byteOffset, src.byteLength);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q8_K.blockBytes;
    const d = view.getFloat32(at, true);
    const o = b * 256;
    for (let j = 0; j < 256; j++) out[o + j] = d * q[at + 4 + j]!;
  }
}
