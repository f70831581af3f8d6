// The library's public API: this file only re-exports.
export { InfuseError, isInfuseError, type ErrorKind } from "./core/errors.js";
export type { ProgressEvent, ProgressListener, TaskOptions } from "./core/progress.js";
export { loadConfig, parseConfig, type ResolvedConfig, type ConfigFile } from "./core/config.js";
export { runDoctor, type DoctorReport } from "./core/doctor.js";
export { VERSION } from "./core/version.js";
export * as tensor from "./tensor/index.js";
export {
  createEmbedder,
  ModelEmbedder,
  presetFor,
  type CreateEmbedderOptions,
  type EmbedBackend,
  type EmbedSettings,
  type Pooling,
} from "./rag/embed/index.js";
export {
  createChatModel,
  parseEndpointSpec,
  GgufChatModel,
  OllamaChatModel,
  OpenAIChatModel,
  type CreateChatModelOptions,
} from "./rag/llm/index.js";
export type { EndpointSpec } from "./core/config.js";
