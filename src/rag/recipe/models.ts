// Loading the models a recipe names by spec: a cross-encoder (ONNX folder or hub reference) or an
// LLM reranker with its own chat model. Runtimes are imported when first needed.
import type { ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import { resolveModel } from "../../hub/resolve.js";
import { LlmReranker } from "../rerank/llm.js";
import type { Reranker } from "../rerank/reranker.js";
import type { RecipeReranker } from "./schema.js";

/** A `loadReranker` for `RecipeContext`: models resolved through the hub cache and config. */
export function rerankerLoader(
  config: ResolvedConfig,
  signal?: AbortSignal,
): (spec: RecipeReranker) => Promise<Reranker> {
  return async (spec) => {
    if (spec.kind === "llm") {
      const { createChatModel } = await import("../llm/index.js");
      const model = await createChatModel(spec.model!, { config, ...(signal ? { signal } : {}) });
      const reranker = new LlmReranker(model);
      // the reranker owns the model it loaded
      return { id: reranker.id, score: reranker.score.bind(reranker), dispose: async () => model.dispose?.() };
    }
    const model = await resolveModel(spec.model, { config });
    if (model.kind !== "folder")
      throw new InfuseError("rag.reranker_not_onnx", `${spec.model} is a GGUF file, not a cross-encoder ONNX folder`, {
        kind: "usage",
        hint: "give a cross-encoder export folder (config.json, tokenizer.json, onnx/model.onnx), or --rerank llm",
        details: { key: "reranker.model" },
      });
    const { CrossEncoderReranker } = await import("../rerank/cross-encoder.js");
    return CrossEncoderReranker.load(spec.model, model.path, model.files);
  };
}
