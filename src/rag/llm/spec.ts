// Which chat model `--llm` and `--adapter` name, as one spec. Kept apart from the factories (index.ts)
// so a command can work it out without loading any model runtime.
import type { EndpointSpec } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import { parseEndpointSpec } from "./endpoints.js";

/**
 * The spec a chat command runs for `--llm` and `--adapter`: without an adapter, `llm` as given; with
 * one, the engine with that adapter on `llm` (a local model; a server's model cannot take an adapter).
 */
export function chatModelSpec(
  llm: string | EndpointSpec | undefined,
  adapter: string | undefined,
): string | EndpointSpec | undefined {
  if (adapter === undefined) return llm;
  if (llm === undefined) {
    throw new InfuseError("llm.adapter_needs_model", "--adapter needs the base model it was trained on", {
      kind: "usage",
      hint: "add --llm MODEL (the .gguf file or Hugging Face folder given to infuse tune), or set rag.llm",
    });
  }
  const endpoint = parseEndpointSpec(llm);
  if (endpoint.provider === "openai" || endpoint.provider === "ollama") {
    throw new InfuseError("llm.adapter_needs_engine", `${endpoint.provider}:${endpoint.model} cannot take an adapter`, {
      kind: "usage",
      hint: "an adapter runs in infuse's engine: give --llm a .gguf file or Hugging Face folder, or merge the adapter (infuse tune merge) and serve the merged model",
    });
  }
  if (endpoint.adapter !== undefined && endpoint.adapter !== adapter) {
    throw new InfuseError(
      "llm.two_adapters",
      `${endpoint.model} is given two adapters: ${endpoint.adapter} and ${adapter}`,
      {
        kind: "usage",
        hint: "give the adapter once, either in engine:MODEL+ADAPTER or with --adapter",
      },
    );
  }
  return { provider: "engine", model: endpoint.model, adapter };
}
