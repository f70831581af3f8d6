// The models an evaluation names on the command line: an embedder spec, a chat model spec, and a
// reranker (`llm`, or a cross-encoder ONNX folder / hub reference). Model runtimes (transformers.js,
// node-llama-cpp) are imported when first needed, so commands that use none start fast.
import type { EndpointSpec, ResolvedConfig } from "../core/config.js";
import { InfuseError } from "../core/errors.js";
import { resolveModel } from "../hub/resolve.js";
import { HashingEmbedder, parseHashSpec } from "../rag/embed/hashing.js";
import { LlmReranker } from "../rag/rerank/llm.js";
import type { Reranker } from "../rag/rerank/reranker.js";
import type { ChatModel, Embedder } from "../rag/types.js";

export async function resolveEmbedder(spec: string, config: ResolvedConfig): Promise<Embedder> {
  const hash = parseHashSpec(spec);
  if (hash) return new HashingEmbedder(hash);
  const { createEmbedder } = await import("../rag/embed/index.js");
  return createEmbedder(spec, { config });
}

export async function resolveChatModel(
  spec: string | EndpointSpec,
  config: ResolvedConfig,
  signal?: AbortSignal,
): Promise<ChatModel> {
  const { createChatModel } = await import("../rag/llm/index.js");
  return createChatModel(spec, { config, ...(signal ? { signal } : {}) });
}

/** `llm` uses the chat model; anything else is a cross-encoder model reference. */
export async function resolveReranker(ref: string, config: ResolvedConfig, llm?: ChatModel): Promise<Reranker> {
  if (ref === "llm") {
    if (!llm)
      throw new InfuseError("eval.reranker_needs_llm", "--reranker llm needs a chat model", {
        kind: "usage",
        hint: "add --llm SPEC (a .gguf path, hf:owner/repo/file.gguf, openai:MODEL or ollama:MODEL)",
      });
    return new LlmReranker(llm);
  }
  const model = await resolveModel(ref, { config });
  if (model.kind !== "folder")
    throw new InfuseError("eval.reranker_not_onnx", `${ref} is a GGUF file, not a cross-encoder ONNX folder`, {
      kind: "usage",
      hint: "give a cross-encoder export folder (config.json, tokenizer.json, onnx/model.onnx), or --reranker llm --llm FILE.gguf",
    });
  const { CrossEncoderReranker } = await import("../rag/rerank/cross-encoder.js");
  return CrossEncoderReranker.load(ref, model.path, model.files);
}
