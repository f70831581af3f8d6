// Block quantizers with the GGUF/llama.cpp byte layouts: Q8_0 (34 B per 32 values), Q4_0 (18 B per 32),
// and NF4 (QLoRA's 16-level table, 64 values: f32 absmax + 32 B). Q8_0/Q4_0 follow ggml's reference
// quantizers step for step in f32 arithmetic (Math.fround), so the bytes equal llama.cpp's.
import { F16_TABLE, f32ToF16 } from "./half.js";

const fr = Math.fround;

export const Q8_0 = { blockValues: 32, blockBytes: 2 + 32 } as const; // d: f16, qs: int8[32]
export const Q4_0 = { blockValues: 32, blockBytes: 2 + 16 } as const; // d: f16, qs: nibbles[16]
export const NF4 = { blockValues: 64, blockBytes: 4 + 32 } as const; // absmax: f32, qs: nibbles[32]

/** The NF4 code book of QLoRA (normal-float quantiles on [-1, 1]). */
export const NF4_LEVELS = Float32Array.of(
  -1.0,
  -0.6961928009986877,
  -0.5250730514526367,
  -0.39491748809814453,
  -0.28444138169288635,
  -0.18477343022823334,
  -0.09105003625154495,
  0.0,
  0.07958029955625534,
  0.16093020141124725,
  0.24611230194568634,
  0.33791524171829224,
  0.44070982933044434,
  0.5626170039176941,
  0.7229568362236023,
  1.0,
);

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);

export function quantizeQ8_0(x: Float32Array, out: Uint8Array): void {
  const blocks = x.length / 32;
  const q = new Int8Array(out.buffer, out.byteOffset, out.byteLength); // a typed view: DataView.setInt8 was ~4× slower
  for (let b = 0; b < blocks; b++) {
    const o = b * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) {
      const v = Math.abs(x[o + i]!);
      if (v > amax) amax = v;
    }
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    const at = b * Q8_0.blockBytes;
    const h = f32ToF16(d);
    out[at] = h & 0xff;
    out[at + 1] = h >> 8;
    for (let i = 0; i < 32; i++) q[at + 2 + i] = roundAway(fr(x[o + i]! * id));
  }
}

/**
 * C's roundf for an f32 value: halves round away from zero (Math.round rounds them up). v ± 0.5 is
 * exact in f64 for any f32 v, so truncating it rounds correctly, without a branch on the sign (which
 * mispredicts on weights: Q8_0 quantization ran ~22 ns a value with one).
 */
function roundAway(v: number): number {
  return (v + Math.sign(v) * 0.5) | 0; // truncates (|v| ≤ 128 here: Q8_0/Q4_0 codes)
}

// Unrolled by 4: the tiled Q8_0 matmul spends its extra time here (1.8 → 1.1 ms per 884 K values).
export function dequantizeQ8_0(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  const q = new Int8Array(src.buffer, src.byteOffset, src.byteLength);
  let at = firstBlock * Q8_0.blockBytes;
  for (let o = 0; o < blocks * 32; o += 32, at += Q8_0.blockBytes) {
    const d = F16_TABLE[u16(src, at)]!;
    const s = at + 2;
    for (let i = 0; i < 32; i += 4) {
      out[o + i] = d * q[s + i]!;
      out[o + i + 1] = d * q[s + i + 1]!;
      out[o + i + 2] = d * q[s + i + 2]!;
      out[o + i + 3] = d * q[s + i + 3]!;
    }
  }
}

// Q4_0: d = max / -8 where max is the signed value of largest magnitude; q = clamp(round(x/d) + 8, 0, 15).
export function quantizeQ4_0(x: Float32Array, out: Uint8Array): void {
  const blocks = x.length / 32;
  for (let b = 0; b < blocks; b++) {
    let max = 0;
    for (let i = 0; i < 32; i++) {
      const v = x[b * 32 + i]!;
      if (Math.abs(v) > Math.abs(max)) max = v;
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    const at = b * Q4_0.blockBytes;
    const h = f32ToF16(d);
    out[at] = h & 0xff;
    out[at + 1] = h >> 8;
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(fr(fr(x[b * 32 + j]! * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(fr(fr(x[b * 32 + 16 + j]! * id) + 8.5)));
      out[at + 2 + j] = lo | (hi << 4); // element j in the low nibble, element j+16 in the high one
    }
  }
}

export function dequantizeQ4_0(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * Q4_0.blockBytes;
    const d = F16_TABLE[u16(src, at)]!;
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const byte = src[at + 2 + j]!;
      out[o + j] = ((byte & 0x0f) - 8) * d;
      out[o + 16 + j] = ((byte >> 4) - 8) * d;
    }
  }
}

// NF4: scale by the block absmax, pick the nearest level; element 2i in the high nibble (bitsandbytes order).
export function quantizeNF4(x: Float32Array, out: Uint8Array): void {
  const blocks = x.length / 64;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 64; i++) amax = Math.max(amax, Math.abs(x[b * 64 + i]!));
    const at = b * NF4.blockBytes;
    view.setFloat32(at, amax, true);
    const inv = amax ? 1 / amax : 0;
    for (let j = 0; j < 32; j++) {
      const hi = nearestNF4(x[b * 64 + 2 * j]! * inv);
      const lo = nearestNF4(x[b * 64 + 2 * j + 1]! * inv);
      out[at + 4 + j] = (hi << 4) | lo;
    }
  }
}

/** Midpoints between consecutive levels. */
const NF4_MIDS = Float64Array.from({ length: 15 }, (_, i) => (NF4_LEVELS[i]! + NF4_LEVELS[i + 1]!) / 2);

/** The index of the level nearest v, the lower one on an exact tie: the reference rule, a scan. */
function scanNF4(v: number): number {
  let best = 0;
  for (let i = 1; i < 16; i++) if (Math.abs(NF4_LEVELS[i]! - v) < Math.abs(NF4_LEVELS[best]! - v)) best = i;
  return best;
}

/**
 * [-1, 1] cut into NF4_BUCKETS: each bucket's level when no midpoint lies in or next to it (the
 * answer), else 255 (scan the neighbours). The scan's compares mispredict on real weights (~40 ns a
 * value, minutes of load for a 1B model); a bucket read is ~6 ns and gives the scan's answer.
 */
const NF4_BUCKETS = 4096;
const NF4_BUCKET_LEVEL = Uint8Array.from({ length: NF4_BUCKETS + 1 }, (_, b) => {
  const lo = -1 + (2 * b) / NF4_BUCKETS;
  const hi = lo + 2 / NF4_BUCKETS;
  const margin = 1e-9; // v's bucket comes from a rounded product: keep midpoints clear of the edges
  return NF4_MIDS.some((m) => m >= lo - margin && m <= hi + margin) ? 255 : scanNF4(lo);
});

function nearestNF4(v: number): number {
  const b = Math.floor((v + 1) * (NF4_BUCKETS / 2));
  const level = NF4_BUCKET_LEVEL[b < 0 ? 0 : b > NF4_BUCKETS ? NF4_BUCKETS : b]!;
  return level !== 255 ? level : scanNF4(v);
}

/** Each byte's two levels (high nibble first): one table read per pair of values. */
const NF4_PAIRS = Float32Array.from({ length: 512 }, (_, i) => NF4_LEVELS[i & 1 ? (i >> 1) & 0x0f : i >> 5]!);

export function dequantizeNF4(src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array): void {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const pairs = NF4_PAIRS;
  for (let b = 0; b < blocks; b++) {
    const at = (firstBlock + b) * NF4.blockBytes;
    const amax = view.getFloat32(at, true);
    const o = b * 64;
    const s = at + 4;
    for (let j = 0; j < 32; j += 2) {
      const p0 = src[s + j]! << 1;
      const p1 = src[s + j + 1]! << 1;
      out[o + 2 * j] = pairs[p0]! * amax;
      out[o + 2 * j + 1] = pairs[p0 + 1]! * amax;
      out[o + 2 * j + 2] = pairs[p1]! * amax;
      out[o + 2 * j + 3] = pairs[p1 + 1]! * amax;
    }
  }
}
