// A lexical embedder that needs no model: feature hashing of lowercased word unigrams and
// bigrams into signed dimensions, L2-normalised. It matches shared words, not meanings (no
// synonyms, no paraphrase): the honest default when no neural model is installed.
// Measured on SciFact (dense nDCG@10): hash-512 0.25; hash-512-stop 0.33; hash-1024-unigram-stop
// 0.49 (new collections' default, DEFAULT_EMBEDDER_SPEC in rag/pipeline/models.ts). Hash
// collisions and stop words, not missing features, limit it.
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import type { Embedder, TokenCounter } from "../types.js";

export const DEFAULT_HASH_DIMENSION = 512;

export interface HashingEmbedderOptions {
  /** Number of dimensions (a power of two is usual); default 512. */
  dimension?: number;
  /** Add word bigrams as features as well as unigrams; default true. */
  bigrams?: boolean;
  /** Drop English stop words before hashing; default false. */
  stopWords?: boolean;
}

const WORD = /[\p{L}\p{N}]+/gu;
const STOP_WORDS = new Set(
  (
    "a an and are as at be been but by can did do does for from had has have he her his i if in into is it its " +
    "no not of on or our she so than that the their them then there these they this those to was we were what " +
    "when where which while who whom why will with you your"
  ).split(" "),
);

/** Lowercased word tokens (stop words included), the unit the token counter counts. */
export function hashTokens(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/** 32-bit FNV-1a over the UTF-16 code units of `s`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly #dimension: number;
  readonly #bigrams: boolean;
  readonly #stopWords: boolean;

  constructor(options: HashingEmbedderOptions = {}) {
    const dimension = options.dimension ?? DEFAULT_HASH_DIMENSION;
    if (!Number.isInteger(dimension) || dimension < 8 || dimension > 65536) {
      throw new InfuseError(
        "rag.hash_dimension",
        `hashing embedder dimension must be an integer in 8..65536, got ${dimension}`,
        {
          kind: "usage",
          hint: 'use a spec like "hash" or "hash-1024"',
        },
      );
    }
    this.#dimension = dimension;
    this.#bigrams = options.bigrams ?? true;
    this.#stopWords = options.stopWords ?? false;
    this.id = `hash-${dimension}${this.#bigrams ? "" : "-unigram"}${this.#stopWords ? "-stop" : ""}`;
  }

  dimension(): Promise<number> {
    return Promise.resolve(this.#dimension);
  }

  embedQueries(texts: string[], options?: TaskOptions): Promise<Float32Array[]> {
    return Promise.resolve(this.#embedAll(texts, options));
  }

  embedPassages(texts: string[], options?: TaskOptions): Promise<Float32Array[]> {
    return Promise.resolve(this.#embedAll(texts, options));
  }

  tokenizer(): Promise<TokenCounter> {
    return Promise.resolve({ countTokens: (text: string) => hashTokens(text).length });
  }

  /** The vector of one text: sublinear term frequency per hashed feature, signed, unit length. */
  embed(text: string): Float32Array {
    const counts = new Map<string, number>();
    const all = hashTokens(text);
    const words = this.#stopWords ? all.filter((w) => !STOP_WORDS.has(w)) : all;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      counts.set(w, (counts.get(w) ?? 0) + 1);
      if (this.#bigrams && i > 0) {
        const bigram = `${words[i - 1]!} ${w}`;
        counts.set(bigram, (counts.get(bigram) ?? 0) + 1);
      }
    }
    const v = new Float32Array(this.#dimension);
    for (const [feature, tf] of counts) {
      const h = fnv1a(feature);
      const sign = h & 0x80000000 ? -1 : 1;
      v[h % this.#dimension]! += sign * (1 + Math.log(tf));
    }
    let norm = 0;
    for (const x of v) norm += x * x;
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < v.length; i++) v[i]! *= inv;
    }
    return v;
  }

  #embedAll(texts: string[], options: TaskOptions | undefined): Float32Array[] {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i++) {
      if (i % 256 === 0) throwIfAborted(options?.signal, "hash embedding");
      out.push(this.embed(texts[i]!));
    }
    options?.onProgress?.({ task: "embed", done: texts.length, total: texts.length, unit: "texts" });
    return out;
  }
}

/** Parses "hash[-N][-unigram][-stop]" (N dimensions); undefined for any other spec. */
export function parseHashSpec(spec: string): HashingEmbedderOptions | undefined {
  const m = /^hash(?:-(\d+))?(-unigram)?(-stop)?$/.exec(spec.trim());
  if (!m) return undefined;
  return {
    dimension: m[1] ? Number(m[1]) : DEFAULT_HASH_DIMENSION,
    bigrams: m[2] === undefined,
    stopWords: m[3] !== undefined,
  };
}
