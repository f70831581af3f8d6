// Embeddings from a GGUF model through node-llama-cpp's embedding context (BERT-family GGUFs
// such as bge/nomic conversions, or any model llama.cpp can pool). Pooling is the one the GGUF
// declares; texts longer than the context are cut to fit. One text per evaluation.
import type { LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import { llamaThreads, loadGgufModel } from "../llm/llama-runtime.js";
import type { EmbedBackend } from "./embedder.js";

export interface GgufEmbedOptions {
  /** Tokens per text at most; default the model's training context, at most 2048. */
  contextSize?: number;
  batchSize?: number;
  signal?: AbortSignal;
}

export class GgufEmbedBackend implements EmbedBackend {
  readonly batchSize: number;

  private constructor(
    readonly id: string,
    private readonly model: LlamaModel,
    private readonly context: LlamaEmbeddingContext,
    private readonly contextSize: number,
    batchSize: number,
  ) {
    this.batchSize = batchSize;
  }

  static async load(ref: string, file: string, options: GgufEmbedOptions = {}): Promise<GgufEmbedBackend> {
    const model = await loadGgufModel(file, options.signal);
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 2048);
    let context: LlamaEmbeddingContext;
    try {
      // non-causal models need the whole input in one batch
      context = await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads: llamaThreads() });
    } catch (e) {
      await model.dispose();
      throw new InfuseError("embed.model_load_failed", `llama.cpp cannot embed with ${file}: ${(e as Error).message}`, {
        kind: "input",
        hint: "use a GGUF embedding model (e.g. a bge, nomic-embed or e5 conversion)",
        cause: e,
        details: { path: file },
      });
    }
    return new GgufEmbedBackend(`gguf:${ref}`, model, context, contextSize, options.batchSize ?? 16);
  }

  knownDimension(): number {
    return this.model.embeddingVectorSize;
  }

  countTokens(text: string): number {
    return this.model.tokenize(text).length;
  }

  async embedBatch(texts: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const text of texts) {
      throwIfAborted(signal, `embedding with ${this.id}`);
      const tokens = this.fit(this.model.tokenize(text));
      if (tokens.length === 0) {
        out.push(new Float32Array(this.model.embeddingVectorSize));
        continue;
      }
      const embedding = await this.context.getEmbeddingFor(tokens);
      out.push(Float32Array.from(embedding.vector));
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }

  /** Cuts the tokens so that they, plus the begin/end tokens llama.cpp adds, fit the context. */
  private fit(tokens: Token[]): Token[] {
    const room = this.contextSize - 3;
    return tokens.length > room ? tokens.slice(0, room) : tokens;
  }
}
