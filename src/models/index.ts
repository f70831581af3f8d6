// models/: decoders built from tensor ops with weights from formats/. Re-exports only.
export { Linear, type LinearAdapter } from "./linear.js";
export {
  SUPPORTED_ARCHITECTURES,
  configFromGguf,
  configFromHf,
  ropeFrequencies,
  type LlamaConfig,
} from "./llama/config.js";
export { LlamaModel, positionsFromMask, type TokenBatch, type LossBatch } from "./llama/model.js";
export { LlamaDecoder, KvCache, type EvalOptions } from "./llama/decode.js";
export { loadLlama, loadLlamaGguf, loadLlamaFolder, type LoadLlamaOptions, type LoadedLlama } from "./llama/load.js";
export type { LlamaWeights, LlamaLayer, WeightMode } from "./llama/weights.js";
export { Sampler, argmax, type SamplingOptions } from "./sampling.js";
export {
  streamGenerate,
  generate,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationResult,
  type FinishReason,
} from "./generate.js";
export { encodeChat, type ChatMessage, type EncodeChatOptions } from "./chat.js";
export {
  CHAT_TEMPLATE_FILE,
  PLAIN_CHAT_TEMPLATE,
  PLAIN_CHAT_STOPS,
  chooseChatTemplate,
  readAdapterChatTemplate,
  writeAdapterChatTemplate,
  type ChatTemplateSource,
  type ChosenTemplate,
} from "./chat-template.js";
export * from "./lora/index.js";
