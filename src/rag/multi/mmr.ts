// Maximal marginal relevance (Carbonell & Goldstein, 1998): pick, one at a time, the candidate
// that maximises λ·sim(query, d) − (1−λ)·max sim(d, already picked), so near-duplicates give way
// to hits that add something. Similarities are cosines of the embedder's vectors.
import { throwIfAborted } from "../../core/errors.js";
import type { Embedder, Hit, RetrieveOptions, Retriever } from "../types.js";

export interface MmrOptions {
  /** Relevance weight λ in [0, 1]; 1 = plain relevance order; default 0.5. */
  lambda?: number;
  /** Candidates fetched from the base retriever; default max(20, 4·topK). */
  fetchK?: number;
}

/** Indices of `k` candidates in MMR order. Vectors need not be normalised. */
export function mmrSelect(query: Float32Array, candidates: Float32Array[], k: number, lambda: number): number[] {
  const relevance = candidates.map((c) => cosine(query, c));
  const picked: number[] = [];
  const maxSimToPicked = candidates.map(() => Number.NEGATIVE_INFINITY);
  while (picked.length < Math.min(k, candidates.length)) {
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < candidates.length; i++) {
      if (picked.includes(i)) continue;
      const redundancy = picked.length === 0 ? 0 : maxSimToPicked[i]!;
      const score = lambda * relevance[i]! - (1 - lambda) * redundancy;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    picked.push(best);
    for (let i = 0; i < candidates.length; i++) {
      maxSimToPicked[i] = Math.max(maxSimToPicked[i]!, cosine(candidates[i]!, candidates[best]!));
    }
  }
  return picked;
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** Re-orders a retriever's candidates by MMR; a hit's score is its MMR rank order (descending). */
export class MmrRetriever implements Retriever {
  readonly name: string;

  constructor(
    private readonly base: Retriever,
    private readonly embedder: Embedder,
    private readonly options: MmrOptions = {},
  ) {
    const lambda = options.lambda ?? 0.5;
    if (!(lambda >= 0 && lambda <= 1)) throw new RangeError(`MMR lambda must be in [0, 1], got ${lambda}`);
    this.name = `${base.name}+mmr`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const fetchK = Math.max(this.options.fetchK ?? Math.max(20, 4 * options.topK), options.topK);
    const candidates = await this.base.retrieve(query, { ...options, topK: fetchK });
    if (candidates.length === 0) return [];
    throwIfAborted(options.signal, "MMR");
    const task = options.signal ? { signal: options.signal } : {};
    const [q] = await this.embedder.embedQueries([query], task);
    const vectors = await this.embedder.embedPassages(
      candidates.map((h) => h.chunk.text),
      task,
    );
    const order = mmrSelect(q!, vectors, options.topK, this.options.lambda ?? 0.5);
    return order.map((i, rank) => {
      const h = candidates[i]!;
      return {
        chunk: h.chunk,
        score: order.length - rank,
        retriever: this.name,
        sources: { ...h.sources, [this.base.name]: { rank: i + 1, score: h.score } },
      };
    });
  }
}
