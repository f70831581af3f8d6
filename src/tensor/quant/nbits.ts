// Repacks GGUF Q4_0 / Q8_0 blocks into onnxruntime's MatMulNBits layout (same bits, f32 scales,
// implicit zero point 2^(bits−1)), so its int kernels run x·Wᵀ without a dequantized copy of W; Q4_K
// into 4-bit blocks with the same values (q4kToNBits); other storage types (NF4, Q5/Q6, F16…) are
// requantized to 8 bits per 32 values (toNBits8), inexactly.
import { F16_TABLE } from "./half.js";
import { Q4_0, Q8_0 } from "./blocks.js";
import { Q4_K, unpackScaleMinK4 } from "./q4k.js";
import type { QuantTensor } from "./formats.js";
import type { Tensor } from "../tensor.js";
import type { NBitsWeight } from "../kernels/ort.js";
import type { OnnxFill } from "../kernels/onnx-model.js";
import { dropBuffer } from "../droppable.js";

/**
 * Any storage type as 8-bit MatMulNBits blocks of 32 (scale = max|w|/127), for MLAS's int8 kernels:
 * W's own values rounded once more, by at most max|w|/254 per block — for Q4_K about 1/17 of its own
 * 4-bit step; NF4's 16 levels likewise. Rows must be a multiple of 32 values. Null otherwise.
 */
export function toNBits8(w: QuantTensor): (NBitsWeight & { packed: Uint8Array; scales: Float32Array }) | null {
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

/**
 * Q4_K weights of one K, their rows stacked, in MatMulNBits' 4-bit form with the same values: each
 * sub-block of 32 a block with its scale d·sc and the integer zero point nearest its minimum dmin·m
 * (min/scale rounded), and what the zero point leaves of the minimum (≤ scale/2) in `minRests` (N, K/32),
 * which the graph subtracts as Σ(x over the block)·rest: w = scale·(q − zero) − rest = scale·q − min.
 * MatMulNBits takes only integer zero points (float ones run its unpacked path, ~300× slower), and it
 * rounds x to int8, so the rest is kept small: a whole minimum taken apart from exact sums of x left
 * the rounding of x uncentred (logits 0.079 off the exact path's, against 0.048 allowed). 0.5 bytes a
 * weight plus two f32s and a nibble per 32 values, against 1.125 for toNBits8's copy. Null unless
 * every weight is Q4_K.
 */
export function q4kToNBits(
  ws: QuantTensor[],
): (NBitsWeight & { packed: Uint8Array; scales: Float32Array; zeros: Uint8Array; minRests: Float32Array }) | null {
  const k = ws[0]!.rowLength;
  if (ws.some((w) => w.type !== "q4_k" || w.shape.length !== 2 || w.rowLength !== k)) return null;
  const n = ws.reduce((a, w) => a + w.rows, 0);
  const blocks = (n * k) / 32;
  const packed = new Uint8Array(blocks * 16);
  const scales = new Float32Array(blocks);
  const minRests = new Float32Array(blocks);
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  const perRow = k / 32;
  const zeroBytes = Math.ceil(perRow / 2); // two 4-bit zero points a byte, per row
  const zeros = new Uint8Array(n * zeroBytes);
  const blockRow = (b: number): number => Math.floor(b / perRow) * zeroBytes + ((b % perRow) >> 1);
  let blk = 0;
  for (const w of ws) {
    const src = w.bytes;
    const supers = (w.rows * k) / 256;
    for (let b = 0; b < supers; b++, blk += 8) {
      const at = b * Q4_K.blockBytes;
      const d = F16_TABLE[src[at]! | (src[at + 1]! << 8)]!;
      const dmin = F16_TABLE[src[at + 2]! | (src[at + 3]! << 8)]!;
      unpackScaleMinK4(src, at + 4, sc, mn);
      for (let j = 0; j < 8; j++) {
        const scale = Math.fround(d * sc[j]!);
        const min = Math.fround(dmin * mn[j]!);
        const zero = scale > 0 ? Math.min(15, Math.round(min / scale)) : 0;
        scales[blk + j] = scale;
        minRests[blk + j] = min - scale * zero;
        const z = blockRow(blk + j);
        zeros[z] = zeros[z]! | (zero << ((((blk + j) % perRow) & 1) * 4));
        // sub-block j: low nibbles (j even) or high (j odd) of the 32 bytes of its 64-value chunk
        const q = at + 16 + (j >> 1) * 32;
        const shift = (j & 1) * 4;
        const dst = (blk + j) * 16;
        for (let i = 0; i < 16; i++)
          packed[dst + i] = ((src[q + 2 * i]! >> shift) & 0x0f) | (((src[q + 2 * i + 1]! >> shift) & 0x0f) << 4);
      }
    }
  }
  return { bits: 4, blockSize: 32, n, k, packed, scales, zeros, minRests };
}

/**
 * Weights of one K, any storage types (Q4_K, Q6_K, NF4, mixed groups…), as one stack of toNBits8's
 * 8-bit blocks, rows in order. Null where a weight has no such form (rows not a multiple of 32).
 */
export function toNBits8Stacked(
  ws: QuantTensor[],
): (NBitsWeight & { packed: Uint8Array; scales: Float32Array }) | null {
  const forms = [];
  for (const w of ws) {
    const form = toNBits8(w);
    if (!form || form.k !== ws[0]!.rowLength) return null;
    forms.push(form);
  }
  if (forms.length === 1) return forms[0]!;
  const n = forms.reduce((a, f) => a + f.n, 0);
  const k = forms[0]!.k;
  const packed = new Uint8Array(n * k);
  const scales = new Float32Array((n * k) / 32);
  let rows = 0;
  for (const f of forms) {
    packed.set(f.packed, rows * k);
    scales.set(f.scales, (rows * k) / 32);
    rows += f.n;
  }
  return { bits: 8, blockSize: 32, n, k, packed, scales };
}

/**
 * The MatMulNBits form of Q4_0 or Q8_0 weights of one K and type, their rows stacked in order (a group of
 * linears that read one input), as initializer fills: the encoder converts each weight's blocks straight
 * into the model it writes, so no repacked or stacked copy of the weights is ever made in between. The
 * bytes are read at write time (a released weight's come back from its file, and stay until released
 * again). `rows` takes rows [start, end) of a single weight. Null for other types, shapes or mixed groups.
 */
export function toNBits(ws: QuantTensor | QuantTensor[], rows?: { start: number; end: number }): NBitsWeight | null {
  const all = Array.isArray(ws) ? ws : [ws];
  const first = all[0];
  if (!first || (first.type !== "q4_0" && first.type !== "q8_0") || (rows && all.length !== 1)) return null;
  const type = first.type;
  const k = first.rowLength;
  if (all.some((w) => w.shape.length !== 2 || w.type !== type || w.rowLength !== k)) return null;
  const bits = type === "q4_0" ? 4 : 8;
  const perRow = k / 32;
  const parts = all.map((w) => ({
    w,
    b0: (rows?.start ?? 0) * perRow,
    blocks: ((rows?.end ?? w.rows) - (rows?.start ?? 0)) * perRow,
  }));
  const n = parts.reduce((a, p) => a + p.blocks, 0) / perRow;
  const packed: OnnxFill = {
    byteLength: (n * k * bits) / 8,
    write(dst) {
      let at = 0;
      for (const { w, b0, blocks } of parts) {
        packBlocks(type, w.bytes, b0, blocks, dst.subarray(at));
        at += (blocks * 32 * bits) / 8;
      }
    },
  };
  const scales: OnnxFill = {
    byteLength: (n * k) / 8, // 4 bytes per block of 32
    write(dst) {
      let at = 0;
      for (const { w, b0, blocks } of parts) {
        blockScales(type, w.bytes, b0, blocks, dst.subarray(at));
        at += blocks * 4;
      }
    },
  };
  return { bits, blockSize: 32, n, k, packed, scales };
}

/** GGUF Q4_0/Q8_0 blocks' quants in MatMulNBits order into dst. */
function packBlocks(type: "q4_0" | "q8_0", src: Uint8Array, b0: number, blocks: number, dst: Uint8Array): void {
  if (type === "q4_0") {
    // Q4_0 byte j: element j (low), j+16 (high). MatMulNBits byte i: element 2i (low), 2i+1 (high).
    const q = new Uint8Array(32);
    for (let b = 0; b < blocks; b++) {
      const at = (b0 + b) * Q4_0.blockBytes;
      for (let j = 0; j < 16; j++) {
        q[j] = src[at + 2 + j]! & 0x0f;
        q[j + 16] = src[at + 2 + j]! >> 4;
      }
      for (let i = 0; i < 16; i++) dst[b * 16 + i] = q[2 * i]! | (q[2 * i + 1]! << 4);
    }
    return;
  }
  // Q8_0: int8 q → uint8 q + 128 (zero point 128).
  for (let b = 0; b < blocks; b++) {
    const at = (b0 + b) * Q8_0.blockBytes + 2;
    for (let i = 0; i < 32; i++) dst[b * 32 + i] = (src[at + i]! + 128) & 0xff;
  }
}

/** Each block's f16 scale as f32 (little-endian bytes) into dst, through a small reused staging array. */
const staged = new Float32Array(4096);
function blockScales(type: "q4_0" | "q8_0", src: Uint8Array, first: number, blocks: number, dst: Uint8Array): void {
  const stride = type === "q4_0" ? Q4_0.blockBytes : Q8_0.blockBytes;
  const bytes = new Uint8Array(staged.buffer);
  for (let b0 = 0; b0 < blocks; b0 += staged.length) {
    const count = Math.min(staged.length, blocks - b0);
    for (let i = 0; i < count; i++) {
      const at = (first + b0 + i) * stride;
      staged[i] = F16_TABLE[src[at]! | (src[at + 1]! << 8)]!;
    }
    dst.set(bytes.subarray(0, count * 4), b0 * 4);
  }
}

/**
 * `w.releaseBytes()`, with the bytes' memory returned now where they are droppableBytes (the loader's,
 * which no one else holds: QuantTensor's readers take views only for the span of a call). False where
 * W cannot release its bytes (no file to read them back from).
 */
export function dropBytes(w: QuantTensor): boolean {
  const held = w.resident ? w.bytes : null;
  if (!w.releaseBytes()) return false;
  if (held && held.byteLength === held.buffer.byteLength) dropBuffer(held.buffer);
  return true;
}

/**
 * `dropValues()` of each f32 tensor, then the memory of every droppable buffer they viewed returned now
 * (droppableBytes), where all of the tensors on it let go: the loader stacks a layer's q|k|v and
 * gate|up in one buffer, dropped together. A tensor that cannot drop its values keeps them.
 */
export function dropTensorValues(weights: Tensor[]): void {
  const buffers = new Map<ArrayBufferLike, number>();
  for (const w of weights) {
    const held = w.resident ? w.data : null;
    if (w.dropValues() && held) buffers.set(held.buffer, (buffers.get(held.buffer) ?? 0) + held.byteLength);
  }
  // where every byte of the buffer belonged to the dropped tensors: nothing else views it
  for (const [buffer, bytes] of buffers) if (bytes === buffer.byteLength) dropBuffer(buffer);
}
