// Model formats: GGUF, safetensors, PEFT, HF name mapping and conversion, inspect. Re-exports only.
export * from "./gguf/index.js";
export { writeGgufLora, peftToGgufLora, type GgufLoraInput, type LoraBaseModel } from "./gguf/lora.js";
export {
  openSafetensors,
  writeSafetensors,
  type SafetensorsFile,
  type SafetensorsTensorInfo,
  type SafetensorsTensorInput,
  type SafetensorsDtype,
} from "./safetensors.js";
export { readPeftAdapter, writePeftAdapter, type PeftAdapter, type PeftConfig, type LoraPair } from "./peft.js";
export { hfToGgufName, ggufToHfName, MODEL_TYPES, type ArchFamily } from "./hf/names.js";
export { permuteQK, unpermuteQK } from "./hf/permute.js";
export { convertHfToGguf, type ConvertOptions, type ConvertResult, type OutputType } from "./convert/hf-to-gguf.js";
export { ggufVocabFromTokenizerJson, ggufVocabFromSentencePiece, type VocabOptions } from "./convert/vocab.js";
export { parseSentencePieceModel } from "./convert/sentencepiece.js";
export { inspectGguf, inspectHfFolder, type ModelReport } from "./inspect.js";
