// GGUF: read (lazily, by tensor), dequantize, quantize and write. Re-exports only.
export * from "./types.js";
export * from "./keys.js";
export { kv, plainValue } from "./kv.js";
export { openGguf, type GgufFile, type GgufTensorInfo } from "./reader.js";
export { writeGguf, type GgufTensorInput, type GgufWriteInput } from "./writer.js";
export { dequantize, DEQUANTIZABLE } from "./dequantize.js";
export { quantize, QUANTIZABLE } from "./quantize.js";
export { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16 } from "./half.js";
