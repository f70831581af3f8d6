// Quantization of float32 data into the GGUF types our writer emits: F32, F16, BF16, Q8_0 and
// Q4_0, the same way ggml's quantize_row_*_ref does. Leaves out k-quants and importance matrices.
import { InfuseError } from "../../core/errors.js";
import { f32ToBf16, f32ToF16 } from "./half.js";
import { GgmlType, QK, ggmlTypeName, tensorByteSize } from "./types.js";

const fr = Math.fround;

/** Types `quantize` can produce. */
export const QUANTIZABLE: readonly GgmlType[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
];

/** C's roundf: halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function quantizeQ8_0(x: Float32Array, out: DataView): void {
  const blockBytes = 2 + QK;
  for (let i = 0; i < x.length / QK; i++) {
    const base = i * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[base + j]!));
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    const o = i * blockBytes;
    out.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < QK; j++) out.setInt8(o + 2 + j, roundHalfAway(fr(x[base + j]! * id)));
  }
}

function quantizeQ4_0(x: Float32Array, out: DataView): void {
  const blockBytes = 2 + QK / 2;
  for (let i = 0; i < x.length / QK; i++) {
    const base = i * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[base + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    const o = i * blockBytes;
    out.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(fr(x[base + j]! * id) + 8.5);
      const x1 = fr(fr(x[base + QK / 2 + j]! * id) + 8.5);
      const q0 = Math.min(15, Math.trunc(x0));
      const q1 = Math.min(15, Math.trunc(x1));
      out.setUint8(o + 2 + j, q0 | (q1 << 4));
    }
  }
}

/**
 * Encodes float32 data as `type`. The element count must fill whole blocks (32 for Q8_0/Q4_0);
 * throws `gguf.unsupported_type` for types we do not write.
 */
export function quantize(type: GgmlType, data: Float32Array, where = "tensor"): Uint8Array {
  const size = tensorByteSize(type, data.length);
  if (!QUANTIZABLE.includes(type) || size === undefined) {
    throw new InfuseError(
      "gguf.unsupported_type",
      `${where}: cannot write ${data.length} elements as ${ggmlTypeName(type)}`,
      {
        kind: "usage",
        hint: `writable types: ${QUANTIZABLE.map(ggmlTypeName).join(", ")}; Q8_0/Q4_0 need a multiple of ${QK} elements per row`,
      },
    );
  }
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i]!, true);
      break;
    case GgmlType.F16:
      for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, f32ToF16(data[i]!), true);
      break;
    case GgmlType.BF16:
      for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, f32ToBf16(data[i]!), true);
      break;
    case GgmlType.Q8_0:
      quantizeQ8_0(data, dv);
      break;
    case GgmlType.Q4_0:
      quantizeQ4_0(data, dv);
      break;
  }
  return bytes;
}
