// F16/BF16 conversions, bit-exact with ggml's: they live in the tensor engine
// (tensor/quant/half.ts) and the formats layer re-exports them.
import { F16_TABLE } from "../../tensor/quant/half.js";

export { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16 } from "../../tensor/quant/half.js";

/** All 65536 F16 values as float32 (dequantizers look scales up here). */
export function f16Lookup(): Float32Array {
  return F16_TABLE;
}
