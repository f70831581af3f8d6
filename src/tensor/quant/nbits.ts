// Repacks GGUF Q4_0 / Q8_0 blocks into onnxruntime's MatMulNBits layout (same bits, f32 scales,
// implicit zero point 2^(bits−1)), so its int kernels run x·Wᵀ without a dequantized copy of W; other
// storage types (Q4_K, NF4, Q5/Q6…) are requantized to 8 bits per 32 values (toNBits8), inexactly.
import { F16_TABLE } from "./half.js";
import { Q4_0, Q8_0 } from "./blocks.js";
import type { QuantTensor } from "./formats.js";
import type { NBitsWeight } from "../kernels/ort.js";

/**
 * Any storage type as 8-bit MatMulNBits blocks of 32 (scale = max|w|/127), for MLAS's int8 kernels:
 * W's own values rounded once more, by at most max|w|/254 per block — for Q4_K about 1/17 of its own
 * 4-bit step; NF4's 16 levels likewise. Rows must be a multiple of 32 values. Null otherwise.
 */
export function toNBits8(w: QuantTensor): NBitsWeight | null {
  const n = w.rows;
  const k = w.rowLength;
  if (w.shape.length !== 2 || k % 32 !== 0) return null;
  const blocksPerRow = k / 32;
  const packed = new Uint8Array(n * k);
  const scales = new Float32Array(n * blocksPerRow);
  const rowsPerStep = Math.max(1, Math.floor((1 << 18) / k));
  const buf = new Float32Array(rowsPerStep * k);
  for (let r0 = 0; r0 < n; r0 += rowsPerStep) {
    const rows = Math.min(rowsPerStep, n - r0);
    w.dequantizeRows(r0, r0 + rows, buf.subarray(0, rows * k));
    for (let b = 0; b < rows * blocksPerRow; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(buf[b * 32 + i]!));
      const scale = amax / 127;
      const inv = scale > 0 ? 1 / scale : 0;
      const at = r0 * blocksPerRow + b;
      scales[at] = scale;
      for (let i = 0; i < 32; i++) packed[at * 32 + i] = Math.round(buf[b * 32 + i]! * inv) + 128;
    }
  }
  return { bits: 8, blockSize: 32, n, k, packed, scales };
}

/** The MatMulNBits form of a Q4_0 or Q8_0 weight; null for types it cannot express exactly. */
export function toNBits(w: QuantTensor): NBitsWeight | null {
  if (w.shape.length !== 2 || (w.type !== "q4_0" && w.type !== "q8_0")) return null;
  const n = w.rows;
  const k = w.rowLength;
  const blocks = (n * k) / 32;
  const src = w.bytes;
  const scales = new Float32Array(blocks);
  if (w.type === "q4_0") {
    // Q4_0 byte j: element j (low), j+16 (high). MatMulNBits byte i: element 2i (low), 2i+1 (high).
    const packed = new Uint8Array(blocks * 16);
    const q = new Uint8Array(32);
    for (let b = 0; b < blocks; b++) {
      const at = b * Q4_0.blockBytes;
      scales[b] = F16_TABLE[src[at]! | (src[at + 1]! << 8)]!;
      for (let j = 0; j < 16; j++) {
        q[j] = src[at + 2 + j]! & 0x0f;
        q[j + 16] = src[at + 2 + j]! >> 4;
      }
      for (let i = 0; i < 16; i++) packed[b * 16 + i] = q[2 * i]! | (q[2 * i + 1]! << 4);
    }
    return { bits: 4, blockSize: 32, n, k, packed, scales };
  }
  // Q8_0: int8 q → uint8 q + 128 (zero point 128).
  const packed = new Uint8Array(blocks * 32);
  for (let b = 0; b < blocks; b++) {
    const at = b * Q8_0.blockBytes;
    scales[b] = F16_TABLE[src[at]! | (src[at + 1]! << 8)]!;
    for (let i = 0; i < 32; i++) packed[b * 32 + i] = (src[at + 2 + i]! + 128) & 0xff;
  }
  return { bits: 8, blockSize: 32, n, k, packed, scales };
}
