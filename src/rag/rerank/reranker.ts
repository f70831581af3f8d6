// Reranking: a reranker scores (query, passage) pairs jointly; `RerankingRetriever` applies one
// to the top-N hits of any retriever and keeps the first stage's rank and score in `sources`.
// Leaves out listwise reranking (one prompt ordering many passages).
import { throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import type { Hit, RetrieveOptions, Retriever } from "../types.js";

/** Scores passages for a query; higher is more relevant. Scores compare within one call. */
export interface Reranker {
  readonly id: string;
  score(query: string, passages: string[], options?: TaskOptions): Promise<number[]>;
  dispose?(): Promise<void>;
}

export interface RerankOptions {
  /** Hits of the first stage that are rescored; default 50 (at least topK). */
  topN?: number;
}

export class RerankingRetriever implements Retriever {
  readonly name: string;

  constructor(
    private readonly base: Retriever,
    private readonly reranker: Reranker,
    private readonly options: RerankOptions = {},
  ) {
    this.name = `${base.name}+rerank`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const topN = Math.max(this.options.topN ?? 50, options.topK);
    const first = await this.base.retrieve(query, { ...options, topK: topN });
    throwIfAborted(options.signal, "reranking");
    const scores = await this.reranker.score(
      query,
      first.map((h) => h.chunk.text),
      options.signal ? { signal: options.signal } : {},
    );
    return first
      .map((h, i) => ({
        chunk: h.chunk,
        score: scores[i] ?? Number.NEGATIVE_INFINITY,
        retriever: this.name,
        sources: { ...h.sources, [this.base.name]: { rank: i + 1, score: h.score } },
        firstRank: i,
      }))
      .sort((a, b) => b.score - a.score || a.firstRank - b.firstRank)
      .slice(0, options.topK)
      .map(({ firstRank: _, ...hit }) => hit);
  }
}
