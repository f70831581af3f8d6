// Texts → one right-padded batch of token ids for the encoder: [CLS] … [SEP] (or the tokenizer's
// own specials), cut to the model's length keeping the closing special token.
import type { Tokenizer } from "../../tokenizers/types.js";

export interface EncodedTexts {
  ids: Int32Array;
  attentionMask: Uint8Array;
  batch: number;
  /** Row length (the longest text's tokens). */
  t: number;
  /** Tokens per text, specials included. */
  lengths: number[];
}

export function encodeTexts(tokenizer: Tokenizer, texts: string[], maxTokens: number): EncodedTexts {
  const rows = texts.map((text) => {
    const ids = tokenizer.encode(text, { addSpecial: true });
    if (ids.length <= maxTokens) return ids;
    const last = ids[ids.length - 1]!;
    const closes = tokenizer.isSpecial(last);
    return closes ? [...ids.slice(0, maxTokens - 1), last] : ids.slice(0, maxTokens);
  });
  const t = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * t);
  const attentionMask = new Uint8Array(rows.length * t);
  rows.forEach((r, b) => {
    ids.set(r, b * t);
    attentionMask.fill(1, b * t, b * t + r.length);
  });
  return { ids, attentionMask, batch: rows.length, t, lengths: rows.map((r) => r.length) };
}
