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
