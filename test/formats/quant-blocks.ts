// Random but valid quant blocks for tests: random payload bytes with sane scale fields, so
// dequantized values are finite. Leaves out quantizing real data (see quantize.ts).
import { f32ToF16, BLOCK_LAYOUTS, GgmlType } from "../../src/formats/gguf/index.js";
import { seededFloats } from "./tiny-models.js";

/** Where each type keeps its f16 scale fields (byte offsets in a block) and their magnitude. */
const SCALE_FIELDS: Partial<Record<GgmlType, { at: number[]; f32?: boolean; scale: number }>> = {
  [GgmlType.Q4_0]: { at: [0], scale: 0.02 },
  [GgmlType.Q4_1]: { at: [0, 2], scale: 0.02 },
  [GgmlType.Q5_0]: { at: [0], scale: 0.01 },
  [GgmlType.Q5_1]: { at: [0, 2], scale: 0.01 },
  [GgmlType.Q8_0]: { at: [0], scale: 0.002 },
  [GgmlType.Q4_K]: { at: [0, 2], scale: 0.001 },
  [GgmlType.Q5_K]: { at: [0, 2], scale: 0.0005 },
  [GgmlType.Q6_K]: { at: [208], scale: 0.0005 },
  [GgmlType.Q8_K]: { at: [0], f32: true, scale: 0.0005 },
};

export const RANDOM_BLOCK_TYPES = Object.keys(SCALE_FIELDS).map(Number) as GgmlType[];

export function randomBlocks(type: GgmlType, count: number, seed: number): Uint8Array {
  const layout = BLOCK_LAYOUTS[type]!;
  const fields = SCALE_FIELDS[type]!;
  const blocks = count / layout.blockSize;
  const bytes = new Uint8Array(blocks * layout.typeSize);
  const noise = seededFloats(bytes.length, seed, 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor((noise[i]! + 1) * 128) & 0xff;
  const dv = new DataView(bytes.buffer);
  const scales = seededFloats(blocks * fields.at.length, seed + 1, fields.scale);
  for (let b = 0; b < blocks; b++) {
    fields.at.forEach((at, k) => {
      const v = Math.abs(scales[b * fields.at.length + k]!) + fields.scale / 4;
      if (fields.f32) dv.setFloat32(b * layout.typeSize + at, v, true);
      else dv.setUint16(b * layout.typeSize + at, f32ToF16(v), true);
    });
  }
  return bytes;
}

/**
 * Per type: d for values of unit std (1 / the std of the integer levels times the typical sub-scale), and
 * the second f16 field as a multiple of d that centres the levels (Q4_1/Q5_1's min, added; K-quants'
 * dmin, subtracted: with each sub-block's 6-bit min equal to its scale, every sub-block is centred).
 */
const WEIGHT_FIELDS: Partial<Record<GgmlType, { d: number; second?: number }>> = {
  [GgmlType.Q4_0]: { d: 1 / 4.6 },
  [GgmlType.Q4_1]: { d: 1 / 4.6, second: -7.5 },
  [GgmlType.Q5_0]: { d: 1 / 9.2 },
  [GgmlType.Q5_1]: { d: 1 / 9.2, second: -15.5 },
  [GgmlType.Q8_0]: { d: 1 / 73.9 },
  [GgmlType.Q4_K]: { d: 1 / (48 * 4.6), second: 7.5 },
  [GgmlType.Q5_K]: { d: 1 / (48 * 9.2), second: 15.5 },
  [GgmlType.Q6_K]: { d: 1 / (80 * 18.5) },
};

/** Packs 8 six-bit scales and mins into Q4_K/Q5_K's 12 bytes at `at` (the inverse of get_scale_min_k4). */
function packScaleMinK4(bytes: Uint8Array, at: number, sc: number[], m: number[]): void {
  bytes.fill(0, at, at + 12);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      bytes[at + j] = sc[j]!;
      bytes[at + j + 4] = m[j]!;
    } else {
      bytes[at + j + 4] = (sc[j]! & 0x0f) | ((m[j]! & 0x0f) << 4);
      bytes[at + j - 4]! |= (sc[j]! >> 4) << 6;
      bytes[at + j]! |= (m[j]! >> 4) << 6;
    }
  }
}

/**
 * Random valid blocks shaped like a weight matrix: values of about `std` around zero (each block's scale
 * jittered by ±50%, K-quant sub-scales drawn from 32–63, Q6_K's from ±(32–127)), so a model made of them
 * has logits of a usual size. The quantized levels are randomBlocks' random bytes.
 */
export function randomWeightBlocks(type: GgmlType, count: number, seed: number, std: number): Uint8Array {
  const layout = BLOCK_LAYOUTS[type]!;
  const at = SCALE_FIELDS[type]!.at;
  const w = WEIGHT_FIELDS[type]!;
  const bytes = randomBlocks(type, count, seed);
  const dv = new DataView(bytes.buffer);
  const blocks = count / layout.blockSize;
  const jitter = seededFloats(blocks, seed + 2, 0.5);
  const sub = seededFloats(blocks * 16, seed + 3, 1);
  for (let b = 0; b < blocks; b++) {
    const o = b * layout.typeSize;
    const d = std * w.d * (1 + jitter[b]!);
    dv.setUint16(o + at[0]!, f32ToF16(d), true);
    if (w.second !== undefined) dv.setUint16(o + at[1]!, f32ToF16(d * w.second), true);
    if (type === GgmlType.Q4_K || type === GgmlType.Q5_K) {
      const sc = Array.from({ length: 8 }, (_, j) => 32 + Math.floor(Math.abs(sub[b * 16 + j]!) * 31.99));
      packScaleMinK4(bytes, o + 4, sc, sc);
    } else if (type === GgmlType.Q6_K) {
      for (let j = 0; j < 16; j++) {
        const v = sub[b * 16 + j]!;
        dv.setInt8(o + 192 + j, Math.sign(v || 1) * (32 + Math.floor(Math.abs(v) * 95.99)));
      }
    }
  }
  return bytes;
}
