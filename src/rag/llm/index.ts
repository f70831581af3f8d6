// Chat models by spec: "openai:MODEL", "ollama:MODEL", "engine:MODEL[+ADAPTER]" (infuse's own engine,
// with an unmerged LoRA adapter), or a model reference (a .gguf path, a folder, hf:owner/repo[/file]).
// A GGUF runs in llama.cpp (node-llama-cpp, fastest); a Hugging Face folder, which llama.cpp cannot
// run, or any adapter goes to the engine.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { EndpointSpec, ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import type { ProgressListener } from "../../core/progress.js";
import { resolveModel } from "../../hub/resolve.js";
import { SUPPORTED_ARCHITECTURES } from "../../models/llama/config.js";
import type { ChatModel } from "../types.js";
import { EngineChatModel } from "./engine.js";
import { ollamaHost, openaiEndpoint, parseEndpointSpec } from "./endpoints.js";
import { GgufChatModel } from "./gguf.js";
import { OllamaChatModel } from "./ollama.js";
import { OpenAIChatModel } from "./openai.js";

export { parseEndpointSpec } from "./endpoints.js";
export { chatModelSpec } from "./spec.js";
export { EngineChatModel, type EngineChatOptions } from "./engine.js";
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
  const task = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const engine = (): Promise<EngineChatModel> =>
    EngineChatModel.load(endpoint.model, {
      config: options.config,
      ...task,
      ...(endpoint.adapter !== undefined ? { adapter: endpoint.adapter } : {}),
    });
  if (endpoint.provider === "engine" || endpoint.adapter !== undefined) return engine();
  const resolved = await resolveModel(endpoint.model, { config: options.config, ...task });
  const ggufs = resolved.files.filter((f) => f.toLowerCase().endsWith(".gguf"));
  const file =
    resolved.kind === "gguf" ? resolved.path : ggufs.length === 1 ? `${resolved.path}/${ggufs[0]}` : undefined;
  if (file === undefined && ggufs.length === 0 && (await isEngineFolder(resolved.path))) return engine();
  if (file === undefined) {
    throw new InfuseError("llm.not_gguf", `${endpoint.model} is not one GGUF model nor a Hugging Face folder`, {
      kind: "usage",
      hint:
        ggufs.length > 1
          ? `name one of its GGUF files: ${ggufs.join(", ")}`
          : "give a .gguf file or a folder with config.json and *.safetensors, or serve it and use openai:MODEL or ollama:MODEL",
      details: { ref: endpoint.model },
    });
  }
  return GgufChatModel.load(endpoint.model, file, {
    ...(options.contextSize !== undefined ? { contextSize: options.contextSize } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** A Hugging Face folder of a decoder the engine runs (config.json's model_type is a supported one). */
async function isEngineFolder(dir: string): Promise<boolean> {
  try {
    const config = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")) as { model_type?: unknown };
    return (SUPPORTED_ARCHITECTURES as readonly unknown[]).includes(config.model_type);
  } catch {
    return false;
  }
}
