// The recommended models a first run offers (a small embedder, a reranker, a small instruct GGUF)
// and pulling them into the cache through the hub client. Offline is an answer, not an error: the
// caller keeps the embedded defaults (the "hash" embedder, extractive answers).
import { isInfuseError } from "../core/errors.js";
import { resolveModel, type ResolveOptions, type ResolvedModel } from "./resolve.js";

export type RecommendedRole = "embedder" | "reranker" | "chat";

export interface RecommendedModel {
  role: RecommendedRole;
  ref: string;
  /** What it is, for people. */
  about: string;
}

export const RECOMMENDED_MODELS: readonly RecommendedModel[] = [
  { role: "embedder", ref: "hf:Xenova/bge-small-en-v1.5", about: "BGE small English embedder (ONNX, 384 dims)" },
  { role: "reranker", ref: "hf:Xenova/ms-marco-MiniLM-L-6-v2", about: "MS MARCO MiniLM cross-encoder reranker (ONNX)" },
  {
    role: "chat",
    ref: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf",
    about: "Qwen2.5 0.5B Instruct, Q4_K_M GGUF",
  },
];

export interface PulledModel extends RecommendedModel {
  resolved: ResolvedModel;
}

export type RecommendedPull =
  | { offline: false; models: PulledModel[] }
  /** The hub could not be reached (or the config is offline); `pulled` holds what was already there. */
  | { offline: true; reason: string; models: PulledModel[] };

/** Network failures and "not cached while offline": the hub is out of reach, not broken. */
function isOffline(e: unknown): boolean {
  return isInfuseError(e) && (e.kind === "network" || e.code === "hub.offline_missing");
}

/** Resolves each recommended model (downloading into the cache), in order, with progress. */
export async function pullRecommended(
  options: ResolveOptions & { models?: readonly RecommendedModel[] },
): Promise<RecommendedPull> {
  const pulled: PulledModel[] = [];
  for (const model of options.models ?? RECOMMENDED_MODELS) {
    try {
      pulled.push({ ...model, resolved: await resolveModel(model.ref, options) });
    } catch (e) {
      if (!isOffline(e) || options.signal?.aborted) throw e;
      return { offline: true, reason: (e as Error).message, models: pulled };
    }
  }
  return { offline: false, models: pulled };
}
