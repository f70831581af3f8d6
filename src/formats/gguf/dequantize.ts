// Dequantization of GGUF tensor bytes to float32. The block decoders are the tensor engine's
// (tensor/quant: one implementation of each, as ggml-quants.c's dequantize_row_* in float32 arithmetic
// and order, so bit-exact with llama.cpp); this maps GGML type ids onto them and checks sizes.
// Leaves out Q2_K, Q3_K, Q8_1 and the IQ*/TQ* types.
import { InfuseError } from "../../core/errors.js";
import { CODECS, type BlockDecoder } from "../../tensor/quant/formats.js";
import { dequantizeQ8_K } from "../../tensor/quant/ggml-blocks.js";
import { BLOCK_LAYOUTS, GgmlType, ggmlTypeName } from "./types.js";

/** F32 as a decoder over 4-byte "blocks" (a copy; the bytes may sit at any offset of the file buffer). */
const decodeF32: BlockDecoder = (src, first, n, out) => {
  const at = src.byteOffset + 4 * first;
  out.set(
    at % 4 === 0 ? new Float32Array(src.buffer, at, n) : new Float32Array(src.slice(4 * first, 4 * (first + n)).buffer),
  );
};

const DECODERS: Partial<Record<GgmlType, BlockDecoder>> = {
  [GgmlType.F32]: decodeF32,
  [GgmlType.F16]: CODECS.f16.dequantize,
  [GgmlType.BF16]: CODECS.bf16.dequantize,
  [GgmlType.Q4_0]: CODECS.q4_0.dequantize,
  [GgmlType.Q4_1]: CODECS.q4_1.dequantize,
  [GgmlType.Q5_0]: CODECS.q5_0.dequantize,
  [GgmlType.Q5_1]: CODECS.q5_1.dequantize,
  [GgmlType.Q8_0]: CODECS.q8_0.dequantize,
  [GgmlType.Q4_K]: CODECS.q4_k.dequantize,
  [GgmlType.Q5_K]: CODECS.q5_k.dequantize,
  [GgmlType.Q6_K]: CODECS.q6_k.dequantize,
  [GgmlType.Q8_K]: dequantizeQ8_K,
};

/** Types `dequantize` accepts. */
export const DEQUANTIZABLE: readonly GgmlType[] = Object.keys(DECODERS).map((k) => Number(k) as GgmlType);

/**
 * Decodes `count` elements of `type` from `bytes` (a view into the file, not copied) to float32.
 * Throws `gguf.unsupported_type` for types without a decoder and `gguf.size_mismatch` when the
 * byte length does not match `count`.
 */
export function dequantize(type: GgmlType, bytes: Uint8Array, count: number, where = "tensor"): Float32Array {
  const layout = BLOCK_LAYOUTS[type];
  const decoder = DECODERS[type];
  if (!layout || !decoder) {
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
  const y = new Float32Array(count);
  decoder(bytes, 0, count / layout.blockSize, y);
  return y;
}
