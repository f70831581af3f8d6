// Repacks GGUF Q4_0 / Q8_0 blocks into onnxruntime's MatMulNBits layout (same bits, f32 scales,
// implicit zero point 2^(bits−1)), so its int kernels run x·Wᵀ without a dequantized copy of W.
import { F16_TABLE } from "./half.js";
import { Q4_0, Q8_0 } from "./blocks.js";
import type { QuantTensor } from "./formats.js";
import type { NBitsWeight } from "../kernels/ort.js";

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
