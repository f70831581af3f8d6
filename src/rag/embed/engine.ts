// Embeddings from infuse's own BERT-family encoder (models/bert): a GGUF file or a Hugging Face
// folder, run by the tensor engine (onnxruntime kernels for matmul, attention, LayerNorm, GELU).
// Pooling: the caller's, else the model's own (GGUF pooling_type, sentence-transformers config),
// else the family preset, else mean. The same model object is what the embedding trainer tunes.
import { throwIfAborted } from "../../core/errors.js";
import { encodeTexts, loadBert, type BertModel, type EncoderPooling } from "../../models/bert/index.js";
import { noGrad } from "../../tensor/index.js";
import type { Tokenizer } from "../../tokenizers/types.js";
import type { EmbedBackend } from "./embedder.js";

export interface EngineEmbedOptions {
  pooling?: EncoderPooling;
  /** Pooling of the model family's preset, used when neither the caller nor the model says. */
  presetPooling?: EncoderPooling;
  batchSize?: number;
  /** Tokens per text at most (specials included); default the model's maximum. */
  maxTokens?: number;
  signal?: AbortSignal;
}

export class EngineEmbedBackend implements EmbedBackend {
  readonly batchSize: number;

  private constructor(
    readonly id: string,
    readonly model: BertModel,
    readonly tokenizer: Tokenizer,
    readonly pooling: EncoderPooling,
    private readonly maxTokens: number,
    batchSize: number,
  ) {
    this.batchSize = batchSize;
  }

  static async load(ref: string, file: string, options: EngineEmbedOptions = {}): Promise<EngineEmbedBackend> {
    const { model, tokenizer } = await loadBert(file, options.signal ? { signal: options.signal } : {});
    const pooling = options.pooling ?? model.config.pooling ?? options.presetPooling ?? "mean";
    const maxTokens = Math.min(options.maxTokens ?? model.config.maxTokens, model.config.maxTokens);
    return new EngineEmbedBackend(`engine:${ref}`, model, tokenizer, pooling, maxTokens, options.batchSize ?? 32);
  }

  knownDimension(): number {
    return this.model.config.dim;
  }

  countTokens(text: string): number {
    return this.tokenizer.encode(text, { addSpecial: false }).length;
  }

  embedBatch(texts: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    throwIfAborted(signal, `embedding with ${this.id}`);
    const dim = this.model.config.dim;
    // similar lengths together: less padding per call
    const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length);
    const out: Float32Array[] = new Array<Float32Array>(texts.length);
    const enc = encodeTexts(
      this.tokenizer,
      order.map((i) => texts[i]!),
      this.maxTokens,
    );
    const pooled = noGrad(() =>
      this.model.encode({ ids: enc.ids, batch: enc.batch, attentionMask: enc.attentionMask }, this.pooling),
    );
    order.forEach((i, row) => (out[i] = pooled.data.slice(row * dim, (row + 1) * dim)));
    return Promise.resolve(out);
  }
}
