// Chat models by spec: "openai:MODEL", "ollama:MODEL", or a model reference (a .gguf path, a
// folder holding one GGUF, or hf:owner/repo/file.gguf) run locally by node-llama-cpp.
import type { EndpointSpec, ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import type { ProgressListener } from "../../core/progress.js";
import { resolveModel } from "../../hub/resolve.js";
import type { ChatModel } from "../types.js";
import { ollamaHost, openaiEndpoint, parseEndpointSpec } from "./endpoints.js";
import { GgufChatModel } from "./gguf.js";
import { OllamaChatModel } from "./ollama.js";
import { OpenAIChatModel } from "./openai.js";

export { parseEndpointSpec } from "./endpoints.js";
export { GgufChatModel } from "./gguf.js";
export { OllamaChatModel } from "./ollama.js";
export { OpenAIChatModel } from "./openai.js";

export interface CreateChatModelOptions {
  config: ResolvedConfig;
  signal?: AbortSignal;
  /** Download progress when a hub model is fetched. */
  onProgress?: ProgressListener;
  /** Context window of a local model, in tokens. */
  contextSize?: number;
  env?: NodeJS.ProcessEnv;
}

export async function createChatModel(
  spec: string | EndpointSpec,
  options: CreateChatModelOptions,
): Promise<ChatModel> {
  const endpoint = parseEndpointSpec(spec);
  const env = options.env ?? process.env;
  if (endpoint.provider === "openai") return new OpenAIChatModel(endpoint.model, openaiEndpoint(endpoint.baseUrl, env));
  if (endpoint.provider === "ollama") return new OllamaChatModel(endpoint.model, ollamaHost(endpoint.baseUrl, env));
  const resolved = await resolveModel(endpoint.model, {
    config: options.config,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const ggufs = resolved.files.filter((f) => f.toLowerCase().endsWith(".gguf"));
  const file =
    resolved.kind === "gguf" ? resolved.path : ggufs.length === 1 ? `${resolved.path}/${ggufs[0]}` : undefined;
  if (file === undefined) {
    throw new InfuseError("llm.not_gguf", `${endpoint.model} is not one GGUF model: local chat runs GGUF files`, {
      kind: "usage",
      hint:
        ggufs.length > 1
          ? `name one of its GGUF files: ${ggufs.join(", ")}`
          : "convert the model to GGUF, or serve it and use openai:MODEL or ollama:MODEL",
      details: { ref: endpoint.model },
    });
  }
  return GgufChatModel.load(endpoint.model, file, {
    ...(options.contextSize !== undefined ? { contextSize: options.contextSize } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
