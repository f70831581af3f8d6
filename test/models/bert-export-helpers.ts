// Shared by the encoder export tests: pooled vectors from our engine, cosine.
import { encodeTexts, type LoadedBert } from "../../src/models/bert/index.js";
import { noGrad } from "../../src/tensor/index.js";

/** Pooled (not normalised) vectors for `texts`, in batches of 50. */
export function embedWith(loaded: Pick<LoadedBert, "model" | "tokenizer">, texts: string[], pooling: "mean" | "cls") {
  const dim = loaded.model.config.dim;
  const out: Float32Array[] = [];
  for (let s = 0; s < texts.length; s += 50) {
    const enc = encodeTexts(loaded.tokenizer, texts.slice(s, s + 50), loaded.model.config.maxTokens);
    const v = noGrad(() =>
      loaded.model.encode({ ids: enc.ids, batch: enc.batch, attentionMask: enc.attentionMask }, pooling),
    );
    for (let b = 0; b < enc.batch; b++) out.push(v.data.slice(b * dim, (b + 1) * dim));
  }
  return out;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}
