// Retrievers over a collection: dense kNN, BM25 and hybrid fusion (RRF or weighted scores).
// Every hit says which retriever found it, at which rank, with which score. No reranking here.
import { InfuseError } from "../../core/errors.js";
import { checkEmbedder, type CollectionStore, type ScoredChunk } from "../store/index.js";
import type { Embedder, Hit, RetrieveOptions, Retriever } from "../types.js";

export type RetrievalMode = "dense" | "bm25" | "hybrid";
export type FusionMethod = "rrf" | "weighted";
export const RETRIEVAL_MODES: RetrievalMode[] = ["dense", "bm25", "hybrid"];

function asHits(found: ScoredChunk[], name: string): Hit[] {
  return found.map((f, i) => ({
    chunk: f.chunk,
    score: f.score,
    retriever: name,
    sources: { [name]: { rank: i + 1, score: f.score } },
  }));
}

export class DenseRetriever implements Retriever {
  readonly name = "dense";
  constructor(
    private readonly store: CollectionStore,
    private readonly embedder: Embedder,
  ) {
    checkEmbedder(store.manifest.name, store.manifest.embedder, { id: embedder.id });
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const [vector] = await this.embedder.embedQueries([query], options.signal ? { signal: options.signal } : {});
    const found = await this.store.searchDense(
      vector!,
      options.filter ? { topK: options.topK, filter: options.filter } : { topK: options.topK },
    );
    return asHits(found, this.name);
  }
}

export class Bm25Retriever implements Retriever {
  readonly name = "bm25";
  constructor(private readonly store: CollectionStore) {}

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const found = await this.store.searchText(
      query,
      options.filter ? { topK: options.topK, filter: options.filter } : { topK: options.topK },
    );
    return asHits(found, this.name);
  }
}

export interface HybridOptions {
  fusion?: FusionMethod;
  /** RRF constant k in 1/(k + rank); default 60. */
  rrfK?: number;
  /** Weights per retriever name for weighted fusion; default equal. */
  weights?: Record<string, number>;
  /** Candidates fetched from each retriever, as a multiple of topK; default 3. */
  candidateFactor?: number;
}

/** Fuses ranked lists: RRF sums 1/(k+rank); weighted sums min-max normalised scores × weight. */
export function fuse(lists: Record<string, Hit[]>, method: FusionMethod, options: HybridOptions = {}): Hit[] {
  const k = options.rrfK ?? 60;
  const fused = new Map<string, Hit>();
  for (const [name, hits] of Object.entries(lists)) {
    const scores = hits.map((h) => h.score);
    const lo = Math.min(...scores);
    const hi = Math.max(...scores);
    const weight = options.weights?.[name] ?? 1;
    hits.forEach((h, i) => {
      const part = method === "rrf" ? 1 / (k + i + 1) : weight * (hi > lo ? (h.score - lo) / (hi - lo) : 1);
      const entry = fused.get(h.chunk.id) ?? { chunk: h.chunk, score: 0, retriever: `hybrid(${method})`, sources: {} };
      entry.score += part;
      entry.sources![name] = { rank: i + 1, score: h.score };
      fused.set(h.chunk.id, entry);
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score);
}

export class HybridRetriever implements Retriever {
  readonly name: string;
  readonly #fusion: FusionMethod;
  constructor(
    private readonly retrievers: Retriever[],
    private readonly options: HybridOptions = {},
  ) {
    this.#fusion = options.fusion ?? "rrf";
    if (!["rrf", "weighted"].includes(this.#fusion)) {
      throw new InfuseError("rag.fusion", `unknown fusion "${this.#fusion}"`, {
        kind: "usage",
        hint: "use rrf or weighted",
      });
    }
    if (retrievers.length < 2)
      throw new InfuseError("rag.hybrid_needs_two", "hybrid retrieval needs at least two retrievers", {
        kind: "usage",
      });
    this.name = `hybrid(${this.#fusion})`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const candidates = { ...options, topK: options.topK * (this.options.candidateFactor ?? 3) };
    const lists = await Promise.all(this.retrievers.map((r) => r.retrieve(query, candidates)));
    const byName = Object.fromEntries(this.retrievers.map((r, i) => [r.name, lists[i]!]));
    return fuse(byName, this.#fusion, this.options).slice(0, options.topK);
  }
}

/** The retriever for a mode; dense and hybrid need the collection's embedder. */
export function createRetriever(
  mode: RetrievalMode,
  store: CollectionStore,
  embedder: Embedder | undefined,
  options: HybridOptions = {},
): Retriever {
  if (!RETRIEVAL_MODES.includes(mode)) {
    throw new InfuseError("rag.retrieval_mode", `unknown retrieval mode "${mode}"`, {
      kind: "usage",
      hint: `use one of: ${RETRIEVAL_MODES.join(", ")}`,
    });
  }
  if (mode === "bm25") return new Bm25Retriever(store);
  if (!embedder)
    throw new InfuseError("rag.no_embedder", `${mode} retrieval needs an embedder`, {
      kind: "usage",
      hint: "pass the collection's embedder, or use bm25",
    });
  const dense = new DenseRetriever(store, embedder);
  return mode === "dense" ? dense : new HybridRetriever([dense, new Bm25Retriever(store)], options);
}
