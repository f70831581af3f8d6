// Quantization of float32 data into the GGUF types our writer emits: F32, F16, BF16, Q8_0 and
// Q4_0 the same way ggml's quantize_row_*_ref does (the block codecs are the tensor engine's), and
// the k-quants Q4_K, Q5_K, Q6_K in ggml's layouts with simpler fits (kquants.ts). Leaves out
// importance matrices.
import { InfuseError } from "../../core/errors.js";
import { quantizeQ4_0, quantizeQ8_0 } from "../../tensor/quant/blocks.js";
import { quantizeQ4_K } from "../../tensor/quant/q4k.js";
import { quantizeQ5_K, quantizeQ6_K } from "./kquants.js";
import { f32ToBf16, f32ToF16 } from "./half.js";
import { GgmlType, QK, ggmlTypeName, tensorByteSize } from "./types.js";

/** Types `quantize` can produce. */
export const QUANTIZABLE: readonly GgmlType[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
];

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
        hint: `writable types: ${QUANTIZABLE.map(ggmlTypeName).join(", ")}; Q8_0/Q4_0 need a multiple of ${QK} elements per row, k-quants of 256`,
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
      quantizeQ8_0(data, bytes);
      break;
    case GgmlType.Q4_0:
      quantizeQ4_0(data, bytes);
      break;
    case GgmlType.Q4_K:
      quantizeQ4_K(data, bytes);
      break;
    case GgmlType.Q5_K:
      quantizeQ5_K(data, bytes);
      break;
    case GgmlType.Q6_K:
      quantizeQ6_K(data, bytes);
      break;
  }
  return bytes;
}
