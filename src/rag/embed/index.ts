// Embedders by spec: "hash[-N]" (no model), "openai:MODEL", "ollama:MODEL", or a model reference
// (local path or hf:owner/repo[/file]): an ONNX model folder runs in transformers.js, a BERT-family
// safetensors folder in infuse's own encoder, a .gguf in node-llama-cpp (folder.ts decides);
// "engine:MODEL" (a BERT-family .gguf or HF folder) always runs in infuse's own encoder. Prefixes come
// from options, else a local folder's sentence-transformers prompts, else the family's preset; pooling
// from options, else the model's own config, else the preset.
import { existsSync } from "node:fs";
import type { EndpointSpec, ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import type { ProgressListener } from "../../core/progress.js";
import { resolveModel } from "../../hub/resolve.js";
import { ollamaHost, openaiEndpoint, parseEndpointSpec } from "../llm/endpoints.js";
import type { Embedder } from "../types.js";
import { ModelEmbedder, type EmbedBackend, type Pooling } from "./embedder.js";
import { EngineEmbedBackend } from "./engine.js";
import { folderBackend, folderPrompts, type FolderBackend } from "./folder.js";
import { GgufEmbedBackend } from "./gguf.js";
import { HashingEmbedder, parseHashSpec } from "./hashing.js";
import { OnnxEmbedBackend } from "./onnx.js";
import { presetFor } from "./presets.js";
import { OllamaEmbedBackend, OpenAIEmbedBackend } from "./remote.js";

export { ModelEmbedder, normalizeL2, type EmbedBackend, type EmbedSettings, type Pooling } from "./embedder.js";
export { presetFor, type EmbedPreset } from "./presets.js";

export interface CreateEmbedderOptions {
  config: ResolvedConfig;
  signal?: AbortSignal;
  /** Download progress when a hub model is fetched. */
  onProgress?: ProgressListener;
  /** Prepended to queries; default the family preset (bge, e5, nomic, …) or none. "" turns it off. */
  queryPrefix?: string;
  /** Prepended to passages; default the family preset or none. */
  passagePrefix?: string;
  /** ONNX models: mean or CLS pooling; default the folder's 1_Pooling config, the preset, else mean. */
  pooling?: Pooling;
  /** L2-normalise every vector; default true. */
  normalize?: boolean;
  /** Texts per model call or HTTP request. */
  batchSize?: number;
  env?: NodeJS.ProcessEnv;
}

export async function createEmbedder(spec: string | EndpointSpec, options: CreateEmbedderOptions): Promise<Embedder> {
  const endpoint = parseEndpointSpec(spec);
  const hash = endpoint.provider === "local" ? parseHashSpec(endpoint.model) : undefined;
  if (hash) return new HashingEmbedder(hash);
  const env = options.env ?? process.env;
  const preset = presetFor(endpoint.model);
  // a local sentence-transformers folder's own prompts (a tuned encoder's instruction) come before presets
  const local = endpoint.provider === "local" || endpoint.provider === "engine";
  const prompts = local && existsSync(endpoint.model) ? await folderPrompts(endpoint.model) : {};
  const settings = {
    queryPrefix: options.queryPrefix ?? prompts.query ?? preset?.queryPrefix ?? "",
    passagePrefix: options.passagePrefix ?? prompts.passage ?? preset?.passagePrefix ?? "",
    normalize: options.normalize ?? true,
  };
  const backend = await createBackend(endpoint, options, env, preset?.pooling);
  return new ModelEmbedder(backend, settings);
}

async function createBackend(
  endpoint: EndpointSpec,
  options: CreateEmbedderOptions,
  env: NodeJS.ProcessEnv,
  presetPooling: Pooling | undefined,
): Promise<EmbedBackend> {
  const batch = options.batchSize;
  if (endpoint.provider === "openai")
    return new OpenAIEmbedBackend(endpoint.model, openaiEndpoint(endpoint.baseUrl, env), batch);
  if (endpoint.provider === "ollama")
    return new OllamaEmbedBackend(endpoint.model, ollamaHost(endpoint.baseUrl, env), batch);
  const signal = options.signal ? { signal: options.signal } : {};
  if (endpoint.provider === "engine") return engineBackend(endpoint, options, presetPooling);
  const resolved = await resolveModel(endpoint.model, {
    config: options.config,
    ...signal,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const ref = resolved.ref.startsWith("hf:") ? resolved.ref : resolved.path;
  const backend: FolderBackend =
    resolved.kind === "gguf"
      ? { kind: "gguf", file: resolved.path }
      : await folderBackend(ref, resolved.path, resolved.files);
  if (backend.kind === "gguf") {
    if (options.pooling !== undefined) throw poolingNotSettable(ref);
    return GgufEmbedBackend.load(ref, backend.file, { ...signal, ...(batch ? { batchSize: batch } : {}) });
  }
  if (backend.kind === "engine") {
    return EngineEmbedBackend.load(ref, resolved.path, {
      ...signal,
      ...(options.pooling ? { pooling: options.pooling } : {}),
      ...(presetPooling ? { presetPooling } : {}),
      ...(batch ? { batchSize: batch } : {}),
    });
  }
  return OnnxEmbedBackend.load(ref, resolved.path, resolved.files, {
    ...signal,
    ...(options.pooling ? { pooling: options.pooling } : {}),
    ...(presetPooling ? { presetPooling } : {}),
    ...(batch ? { batchSize: batch } : {}),
  });
}

function poolingNotSettable(ref: string): InfuseError {
  return new InfuseError("embed.pooling_fixed", `the pooling of ${ref} is fixed by the GGUF file`, {
    kind: "usage",
    hint: "leave out the pooling option for GGUF models (llama.cpp uses the pooling type stored in the model)",
  });
}

async function engineBackend(
  endpoint: EndpointSpec,
  options: CreateEmbedderOptions,
  presetPooling: Pooling | undefined,
): Promise<EmbedBackend> {
  if (endpoint.adapter !== undefined) {
    throw new InfuseError("embed.engine_adapter", `engine embedders take no adapter ("+${endpoint.adapter}")`, {
      kind: "usage",
      hint: "write engine:MODEL with a .gguf file or a Hugging Face folder (a tuned encoder is a folder of its own)",
    });
  }
  const resolved = await resolveModel(endpoint.model, {
    config: options.config,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const ref = resolved.ref.startsWith("hf:") ? resolved.ref : resolved.path;
  const ggufs = resolved.files.filter((f) => f.toLowerCase().endsWith(".gguf"));
  const hasSafetensors = resolved.files.some((f) => f.endsWith(".safetensors"));
  const file =
    resolved.kind === "gguf" || hasSafetensors || ggufs.length !== 1 ? resolved.path : `${resolved.path}/${ggufs[0]}`;
  return EngineEmbedBackend.load(ref, file, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.pooling ? { pooling: options.pooling } : {}),
    ...(presetPooling ? { presetPooling } : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
  });
}
