// Where the OpenAI-compatible and Ollama servers are: explicit base URL, else the usual
// environment variables, else the public defaults. Shared by chat models and embedders.
import type { EndpointSpec } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";

export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";
export const DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434";

export interface OpenAIEndpoint {
  baseUrl: string;
  apiKey: string | undefined;
}

export function openaiEndpoint(baseUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): OpenAIEndpoint {
  const url = baseUrl ?? (env["OPENAI_BASE_URL"] || undefined) ?? DEFAULT_OPENAI_BASE_URL;
  return { baseUrl: url.replace(/\/+$/, ""), apiKey: env["OPENAI_API_KEY"] || undefined };
}

/** Ollama's base URL; OLLAMA_HOST may be "host", "host:port" or a full URL, as Ollama itself accepts. */
export function ollamaHost(baseUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  let host = baseUrl ?? (env["OLLAMA_HOST"] || undefined) ?? DEFAULT_OLLAMA_HOST;
  if (!/^https?:\/\//.test(host))
    host = /:\d+\/?$/.test(host) ? `http://${host}` : `http://${host.replace(/\/+$/, "")}:11434`;
  const url = new URL(host);
  if (url.hostname === "0.0.0.0") url.hostname = "127.0.0.1";
  return url.toString().replace(/\/+$/, "");
}

export function openaiHeaders(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

export const OPENAI_AUTH_HINT =
  "set OPENAI_API_KEY to a valid key for this server (check that it has not expired and may use this model)";
export const OLLAMA_AUTH_HINT =
  "the Ollama server (or a proxy in front of it) refused the request; check its access settings";

/**
 * A spec as a provider, model and base URL: "openai:gpt-4o-mini" → { provider: "openai", model: "gpt-4o-mini" };
 * "engine:MODEL+ADAPTER" → { provider: "engine", model, adapter } (the last "+" separates the adapter folder).
 */
export function parseEndpointSpec(spec: string | EndpointSpec): EndpointSpec {
  if (typeof spec !== "string") return spec;
  const m = /^(openai|ollama|local|engine):(.*)$/.exec(spec);
  if (!m) return { provider: "local", model: spec };
  const provider = m[1] as EndpointSpec["provider"];
  let model = m[2]!;
  let adapter: string | undefined;
  if (provider === "engine" && model.includes("+")) {
    adapter = model.slice(model.lastIndexOf("+") + 1);
    model = model.slice(0, model.lastIndexOf("+"));
    if (adapter === "") {
      throw new InfuseError("rag.bad_spec", `"${spec}" names no adapter after "+"`, {
        kind: "usage",
        hint: "write engine:MODEL+ADAPTER_DIR, e.g. engine:base.gguf+runs/tuned, or engine:MODEL alone",
      });
    }
  }
  if (model === "") {
    throw new InfuseError("rag.bad_spec", `"${spec}" names no model`, {
      kind: "usage",
      hint: `write ${provider}:MODEL, e.g. openai:gpt-4o-mini, ollama:llama3.2 or engine:model.gguf`,
    });
  }
  return { provider, model, ...(adapter !== undefined ? { adapter } : {}) };
}
