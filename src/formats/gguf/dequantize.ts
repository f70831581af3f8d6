// Dequantization of GGUF tensor bytes to float32, block by block as ggml-quants.c's
// dequantize_row_* does (float32 arithmetic, same order). Leaves out the IQ*/TQ* types.
import { InfuseError } from "../../core/errors.js";
import { bf16ToF32, f16Lookup } from "./half.js";
import { BLOCK_LAYOUTS, GgmlType, QK, QK_K, ggmlTypeName } from "./types.js";

const fr = Math.fround;

type BlockDecoder = (b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number) => void;

function decodeQ4_0(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16Lookup()[dv.getUint16(o, true)]!;
  for (let j = 0; j < QK / 2; j++) {
    const q = b[o + 2 + j]!;
    y[yo + j] = ((q & 0x0f) - 8) * d;
    y[yo + j + QK / 2] = ((q >> 4) - 8) * d;
  }
}

function decodeQ4_1(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const t = f16Lookup();
  const d = t[dv.getUint16(o, true)]!;
  const m = t[dv.getUint16(o + 2, true)]!;
  for (let j = 0; j < QK / 2; j++) {
    const q = b[o + 4 + j]!;
    y[yo + j] = fr((q & 0x0f) * d) + m;
    y[yo + j + QK / 2] = fr((q >> 4) * d) + m;
  }
}

function decodeQ5_0(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16Lookup()[dv.getUint16(o, true)]!;
  const qh = dv.getUint32(o + 2, true);
  for (let j = 0; j < QK / 2; j++) {
    const q = b[o + 6 + j]!;
    const xh0 = ((qh >>> j) << 4) & 0x10;
    const xh1 = (qh >>> (j + 12)) & 0x10;
    y[yo + j] = (((q & 0x0f) | xh0) - 16) * d;
    y[yo + j + QK / 2] = (((q >> 4) | xh1) - 16) * d;
  }
}

function decodeQ5_1(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const t = f16Lookup();
  const d = t[dv.getUint16(o, true)]!;
  const m = t[dv.getUint16(o + 2, true)]!;
  const qh = dv.getUint32(o + 4, true);
  for (let j = 0; j < QK / 2; j++) {
    const q = b[o + 8 + j]!;
    const xh0 = ((qh >>> j) << 4) & 0x10;
    const xh1 = (qh >>> (j + 12)) & 0x10;
    y[yo + j] = fr(((q & 0x0f) | xh0) * d) + m;
    y[yo + j + QK / 2] = fr(((q >> 4) | xh1) * d) + m;
  }
}

function decodeQ8_0(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const d = f16Lookup()[dv.getUint16(o, true)]!;
  for (let j = 0; j < QK; j++) y[yo + j] = dv.getInt8(o + 2 + j) * d;
}

/** get_scale_min_k4: the j-th 6-bit scale and min packed in the 12 scale bytes at `s`. */
function scaleMinK4(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j]! & 63, b[s + j + 4]! & 63];
  const sc = (b[s + j + 4]! & 0xf) | ((b[s + j - 4]! >> 6) << 4);
  const m = (b[s + j + 4]! >> 4) | ((b[s + j]! >> 6) << 4);
  return [sc, m];
}

function decodeQ4_K(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const t = f16Lookup();
  const d = t[dv.getUint16(o, true)]!;
  const dmin = t[dv.getUint16(o + 2, true)]!;
  const scales = o + 4;
  let q = scales + 12;
  let out = yo;
  for (let j = 0, is = 0; j < QK_K; j += 64, is += 2) {
    const [sc1, m1] = scaleMinK4(b, scales, is);
    const [sc2, m2] = scaleMinK4(b, scales, is + 1);
    const d1 = fr(d * sc1);
    const mm1 = fr(dmin * m1);
    const d2 = fr(d * sc2);
    const mm2 = fr(dmin * m2);
    for (let l = 0; l < 32; l++) y[out++] = fr(d1 * (b[q + l]! & 0xf)) - mm1;
    for (let l = 0; l < 32; l++) y[out++] = fr(d2 * (b[q + l]! >> 4)) - mm2;
    q += 32;
  }
}

function decodeQ5_K(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const t = f16Lookup();
  const d = t[dv.getUint16(o, true)]!;
  const dmin = t[dv.getUint16(o + 2, true)]!;
  const scales = o + 4;
  const qh = scales + 12;
  let ql = qh + QK_K / 8;
  let out = yo;
  let u1 = 1;
  let u2 = 2;
  for (let j = 0, is = 0; j < QK_K; j += 64, is += 2) {
    const [sc1, m1] = scaleMinK4(b, scales, is);
    const [sc2, m2] = scaleMinK4(b, scales, is + 1);
    const d1 = fr(d * sc1);
    const mm1 = fr(dmin * m1);
    const d2 = fr(d * sc2);
    const mm2 = fr(dmin * m2);
    for (let l = 0; l < 32; l++) y[out++] = fr(d1 * ((b[ql + l]! & 0xf) + (b[qh + l]! & u1 ? 16 : 0))) - mm1;
    for (let l = 0; l < 32; l++) y[out++] = fr(d2 * ((b[ql + l]! >> 4) + (b[qh + l]! & u2 ? 16 : 0))) - mm2;
    ql += 32;
    u1 <<= 2;
    u2 <<= 2;
  }
}

function decodeQ6_K(b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  let ql = o;
  let qh = o + QK_K / 2;
  let sc = qh + QK_K / 4;
  const d = f16Lookup()[dv.getUint16(sc + QK_K / 16, true)]!;
  let out = yo;
  for (let n = 0; n < QK_K; n += 128) {
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = b[qh + l]!;
      const q1 = ((b[ql + l]! & 0xf) | ((h & 3) << 4)) - 32;
      const q2 = ((b[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((b[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((b[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
      y[out + l] = fr(d * dv.getInt8(sc + is)) * q1;
      y[out + l + 32] = fr(d * dv.getInt8(sc + is + 2)) * q2;
      y[out + l + 64] = fr(d * dv.getInt8(sc + is + 4)) * q3;
      y[out + l + 96] = fr(d * dv.getInt8(sc + is + 6)) * q4;
    }
    out += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

function decodeQ8_K(_b: Uint8Array, dv: DataView, o: number, y: Float32Array, yo: number): void {
  const d = dv.getFloat32(o, true);
  for (let j = 0; j < QK_K; j++) y[yo + j] = d * dv.getInt8(o + 4 + j);
}

const DECODERS: Partial<Record<GgmlType, BlockDecoder>> = {
  [GgmlType.Q4_0]: decodeQ4_0,
  [GgmlType.Q4_1]: decodeQ4_1,
  [GgmlType.Q5_0]: decodeQ5_0,
  [GgmlType.Q5_1]: decodeQ5_1,
  [GgmlType.Q8_0]: decodeQ8_0,
  [GgmlType.Q4_K]: decodeQ4_K,
  [GgmlType.Q5_K]: decodeQ5_K,
  [GgmlType.Q6_K]: decodeQ6_K,
  [GgmlType.Q8_K]: decodeQ8_K,
};

/** Types `dequantize` accepts. */
export const DEQUANTIZABLE: readonly GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, ...keysOf(DECODERS)];

function keysOf(o: object): GgmlType[] {
  return Object.keys(o).map((k) => Number(k) as GgmlType);
}

/**
 * Decodes `count` elements of `type` from `bytes` (a view into the file, not copied) to float32.
 * Throws `gguf.unsupported_type` for types without a decoder and `gguf.size_mismatch` when the
 * byte length does not match `count`.
 */
export function dequantize(type: GgmlType, bytes: Uint8Array, count: number, where = "tensor"): Float32Array {
  const layout = BLOCK_LAYOUTS[type];
  const decoder = DECODERS[type];
  if (!layout || (!decoder && type !== GgmlType.F32 && type !== GgmlType.F16 && type !== GgmlType.BF16)) {
    throw new InfuseError("gguf.unsupported_type", `${where}: cannot dequantize type ${ggmlTypeName(type)}`, {
      kind: "input",
      hint: `supported: ${DEQUANTIZABLE.map(ggmlTypeName).join(", ")}; requantize the model with llama-quantize`,
      details: { type },
    });
  }
  const expected = count % layout.blockSize === 0 ? (count / layout.blockSize) * layout.typeSize : -1;
  if (expected !== bytes.byteLength) {
    throw new InfuseError(
      "gguf.size_mismatch",
      `${where}: ${bytes.byteLength} bytes do not hold ${count} elements of ${ggmlTypeName(type)} (need ${expected})`,
      { kind: "input", details: { type, count, bytes: bytes.byteLength } },
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(count);
  if (type === GgmlType.F32) {
    for (let i = 0; i < count; i++) y[i] = dv.getFloat32(i * 4, true);
  } else if (type === GgmlType.F16) {
    const t = f16Lookup();
    for (let i = 0; i < count; i++) y[i] = t[dv.getUint16(i * 2, true)]!;
  } else if (type === GgmlType.BF16) {
    for (let i = 0; i < count; i++) y[i] = bf16ToF32(dv.getUint16(i * 2, true));
  } else {
    const blocks = count / layout.blockSize;
    for (let i = 0; i < blocks; i++) decoder!(bytes, dv, i * layout.typeSize, y, i * layout.blockSize);
  }
  return y;
}
