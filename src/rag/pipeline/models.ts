// Embedders and chat models by spec. "hash[-N][-unigram][-stop]" is the built-in lexical embedder; every
// other spec goes to rag/embed's and rag/llm's factories, loaded on demand so a missing part
// (or its native library) only fails the commands that need it.
import type { EndpointSpec, ResolvedConfig } from "../../core/config.js";
import { InfuseError, isInfuseError } from "../../core/errors.js";
import { HashingEmbedder, parseHashSpec } from "../embed/hashing.js";
import type { ChatModel, Embedder } from "../types.js";

/**
 * The embedder of a new collection when none is named: the built-in lexical one, unigrams, stop
 * words out, 1024 dimensions (SciFact dense nDCG@10 0.49, against 0.25 for plain "hash").
 * Existing collections keep the embedder their manifest records.
 */
export const DEFAULT_EMBEDDER_SPEC = "hash-1024-unigram-stop";

export interface ModelOptions {
  config: ResolvedConfig;
  signal?: AbortSignal;
}

type Factory<T> = (spec: string | EndpointSpec, options: ModelOptions) => Promise<T>;

async function factory<T>(module: string, name: string, what: string): Promise<Factory<T>> {
  try {
    const mod = (await import(module)) as Record<string, unknown>;
    if (typeof mod[name] === "function") return mod[name] as Factory<T>;
  } catch (e) {
    throw new InfuseError("rag.model_support_missing", `${what} support could not be loaded: ${(e as Error).message}`, {
      kind: "internal",
      hint: `use the built-in lexical embedder ("hash") or reinstall infuse`,
      cause: e,
    });
  }
  throw new InfuseError("rag.model_support_missing", `${what} support is not available in this build`, {
    kind: "internal",
  });
}

/** A spec as a string for storing with a collection. */
export function specString(spec: string | EndpointSpec): string {
  return typeof spec === "string" ? spec : `${spec.provider}:${spec.model}`;
}

export async function resolveEmbedder(spec: string | EndpointSpec, options: ModelOptions): Promise<Embedder> {
  if (typeof spec === "string") {
    const hash = parseHashSpec(spec);
    if (hash) return new HashingEmbedder(hash);
  }
  const create = await factory<Embedder>("../embed/index.js", "createEmbedder", "neural embedding");
  return create(spec, options);
}

/**
 * The embedder a collection was built with, unless another spec is given (then it must match).
 * A remote embedder's stored endpoint (with its base URL) reconnects to the server it was built
 * with; a collection stored before endpoints were kept uses the config's `rag.embedder` object
 * when it names the stored spec.
 */
export async function collectionEmbedder(
  stored: { spec: string; endpoint?: EndpointSpec },
  override: string | EndpointSpec | undefined,
  options: ModelOptions,
): Promise<Embedder> {
  const configured = options.config.rag.embedder;
  const fromConfig = configured !== undefined && specString(configured) === stored.spec ? configured : undefined;
  return resolveEmbedder(override ?? stored.endpoint ?? fromConfig ?? stored.spec, options);
}

export interface ChatModelChoice {
  model?: ChatModel;
  /** Why there is no model: not configured, or the error that stopped it loading. */
  reason?: string;
}

/**
 * The chat model for a spec (or the config's `rag.llm`). Only the unconfigured default falls back:
 * with no model named anywhere the choice is a reason (answers are extractive, and say why); a model
 * the user named that cannot be loaded is an error (not_found for a bad path or unknown name).
 */
export async function resolveChatModel(
  spec: string | EndpointSpec | undefined,
  options: ModelOptions,
): Promise<ChatModelChoice> {
  const chosen = spec ?? options.config.rag.llm;
  if (chosen === undefined)
    return { reason: "no language model is configured (set rag.llm in infuse.config.json or pass --llm)" };
  const create = await factory<ChatModel>("../llm/index.js", "createChatModel", "chat model");
  try {
    return { model: await create(chosen, options) };
  } catch (e) {
    // a bare name ("llama3") is read as a local path: say how to name a served model
    if (
      isInfuseError(e) &&
      e.kind === "not_found" &&
      typeof chosen === "string" &&
      /^[\w.:-]+$/.test(chosen) &&
      !/\.gguf$/i.test(chosen)
    )
      throw new InfuseError(e.code, e.message, {
        kind: e.kind,
        hint: `${e.hint ? `${e.hint}; ` : ""}a model served by Ollama is ollama:${chosen}, by an OpenAI-compatible server openai:${chosen}`,
        cause: e,
        details: e.details,
      });
    if (isInfuseError(e)) throw e;
    throw new InfuseError("rag.llm_unusable", `the language model ${specString(chosen)} could not be loaded`, {
      kind: "internal",
      hint: "check the --llm spec (or rag.llm), or leave it out to answer extractively",
      cause: e,
    });
  }
}
