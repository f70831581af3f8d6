// Texts → sentence embeddings for training (the encoder, its pooling, optional unit length), and
// GradCache's two halves: embeddings of a whole batch without a graph, then re-encoding a chunk at a
// time with one and sending the cached gradients of its embeddings back through it.
import type { BertModel, EncoderPooling } from "../../models/bert/index.js";
import { encodeTexts } from "../../models/bert/index.js";
import { noGrad, Tensor } from "../../tensor/index.js";
import type { Tokenizer } from "../../tokenizers/types.js";
import { l2Normalize } from "./loss.js";

export interface EmbedSettings {
  pooling: EncoderPooling;
  normalize: boolean;
}

/** An encoder as the contrastive task uses it. */
export class TextEncoder {
  constructor(
    readonly model: BertModel,
    readonly tokenizer: Tokenizer,
    readonly settings: EmbedSettings,
  ) {}

  /** Embeddings (N, C) of `texts` cut to `maxTokens`, differentiable when grad mode is on; `tokens` adds up. */
  embed(texts: string[], maxTokens: number, count?: { tokens: number }): Tensor {
    const enc = encodeTexts(this.tokenizer, texts, Math.min(maxTokens, this.model.config.maxTokens));
    if (count) count.tokens += enc.lengths.reduce((a, b) => a + b, 0);
    const pooled = this.model.encode(
      { ids: enc.ids, batch: enc.batch, attentionMask: enc.attentionMask },
      this.settings.pooling,
    );
    return this.settings.normalize ? l2Normalize(pooled) : pooled;
  }

  /** Embeddings of `texts` without a graph, `chunk` texts a call (0 = all at once), shortest first. */
  embedNoGrad(texts: string[], maxTokens: number, chunk: number, count?: { tokens: number }): Float32Array {
    const dim = this.model.config.dim;
    const out = new Float32Array(texts.length * dim);
    for (const rows of lengthChunks(texts, chunk)) {
      const e = noGrad(() =>
        this.embed(
          rows.map((i) => texts[i]!),
          maxTokens,
          count,
        ),
      );
      rows.forEach((i, r) => out.set(e.data.subarray(r * dim, (r + 1) * dim), i * dim));
    }
    return out;
  }

  /**
   * GradCache's second half: re-encodes `texts` `chunk` at a time with a graph and back-propagates
   * `grad` (N, C), the loss's gradient with respect to their embeddings, into the parameters.
   */
  backpropCached(texts: string[], grad: Float32Array, maxTokens: number, chunk: number): void {
    const dim = this.model.config.dim;
    for (const rows of lengthChunks(texts, chunk)) {
      const e = this.embed(
        rows.map((i) => texts[i]!),
        maxTokens,
      );
      const g = new Float32Array(rows.length * dim);
      rows.forEach((i, r) => g.set(grad.subarray(i * dim, (i + 1) * dim), r * dim));
      e.backward({ grad: g });
    }
  }
}

/** Row indices in chunks of `size` (0 = one chunk), texts of similar length together (less padding). */
export function lengthChunks(texts: string[], size: number): number[][] {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
  const n = size > 0 ? size : Math.max(1, texts.length);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += n) out.push(order.slice(i, i + n));
  return out;
}

/** A leaf (N, C) over embedding values, for the loss's gradient with respect to them. */
export const leaf = (data: Float32Array, dim: number): Tensor => new Tensor(data, [data.length / dim, dim], true);
