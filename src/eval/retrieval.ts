// Runs retrievers over a query set and scores them with the trec_eval metrics. A run is appended
// to a JSONL file query by query, so an interrupted evaluation resumes where it stopped and a
// finished one is read back instead of recomputed. Leaves out building retrievers (rag/recipe).
import { appendFile, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { throwIfAborted } from "../core/errors.js";
import { throttledProgress, type TaskOptions } from "../core/progress.js";
import type { RecipeRetriever } from "../rag/recipe/build.js";
import type { StageTrace } from "../rag/recipe/trace.js";
import type { Hit, Retriever } from "../rag/types.js";
import { evaluateRun, type MetricOptions, type QueryMetrics, type Qrels, type Run, type ScoredDoc } from "./metrics.js";
import { parseJsonLines } from "../formats/jsonl.js";

export interface EvalQuery {
  id: string;
  text: string;
}

export interface RunRetrievalOptions extends TaskOptions {
  /** Documents kept per query; default 100. */
  topK?: number;
  /** JSONL file that caches the run; queries already in it are not retrieved again. */
  cacheFile?: string;
  /** The document id of a hit; default the `doc_id` metadata, else the chunk's source. */
  docId?: (hit: Hit) => string;
  /** Chunks fetched per query as a multiple of topK, so that several chunks of a document still leave topK documents; default 1. */
  overfetch?: number;
}

export interface RetrievalRun {
  run: Run;
  /** Milliseconds per query retrieved in this call (cached queries have none). */
  latencies: number[];
  /** Queries read back from the cache file. */
  cached: number;
  /** Tokens of the retrieved text before and after compression, summed over the queries run now. */
  compression?: { tokensBefore: number; tokensAfter: number };
}

/** The BEIR document id of a hit: chunks of one document share it. */
export function defaultDocId(hit: Hit): string {
  const id = hit.chunk.metadata["doc_id"];
  return id === undefined ? hit.chunk.source : String(id);
}

/** Chunk hits → document ranking: a document scores as its best chunk (MaxP), order kept. */
export function hitsToDocs(hits: Hit[], docId: (hit: Hit) => string, topK: number): ScoredDoc[] {
  const seen = new Set<string>();
  const docs: ScoredDoc[] = [];
  // Scores are kept when they sort the list (then ties are broken as trec_eval does); otherwise
  // (a list ordered by something else, e.g. MMR) the rank becomes the score.
  const sorted = hits.every((h, i) => i === 0 || h.score <= hits[i - 1]!.score);
  for (const hit of hits) {
    const id = docId(hit);
    if (seen.has(id)) continue;
    seen.add(id);
    docs.push({ id, score: sorted ? hit.score : hits.length - docs.length });
    if (docs.length === topK) break;
  }
  return docs;
}

export async function runRetrieval(
  retriever: Retriever,
  queries: EvalQuery[],
  options: RunRetrievalOptions = {},
): Promise<RetrievalRun> {
  const topK = options.topK ?? 100;
  const docId = options.docId ?? defaultDocId;
  const run: Run = options.cacheFile ? await readRunFile(options.cacheFile) : new Map();
  const cached = queries.filter((q) => run.has(q.id)).length;
  if (options.cacheFile) await mkdir(path.dirname(options.cacheFile), { recursive: true });
  const progress = throttledProgress(options.onProgress);
  const latencies: number[] = [];
  let compression: { tokensBefore: number; tokensAfter: number } | undefined;
  let done = cached;
  for (const q of queries) {
    if (run.has(q.id)) continue;
    throwIfAborted(options.signal, `retrieval with ${retriever.name}`);
    const started = performance.now();
    const retrieveOptions = {
      topK: topK * (options.overfetch ?? 1),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    // a recipe's retriever reports compression in its trace; a plain CompressingRetriever in lastStats
    const traced =
      "retrieveWithTrace" in retriever
        ? await (retriever as RecipeRetriever).retrieveWithTrace(q.text, retrieveOptions)
        : undefined;
    const hits = traced ? traced.hits : await retriever.retrieve(q.text, retrieveOptions);
    latencies.push(performance.now() - started);
    const stats = traced ? compressionOf(traced.stages) : (retriever as { lastStats?: TokenCounts }).lastStats;
    if (stats) {
      compression ??= { tokensBefore: 0, tokensAfter: 0 };
      compression.tokensBefore += stats.tokensBefore;
      compression.tokensAfter += stats.tokensAfter;
    }
    const docs = hitsToDocs(hits, docId, topK);
    run.set(q.id, docs);
    if (options.cacheFile) await appendFile(options.cacheFile, JSON.stringify({ q: q.id, docs }) + "\n");
    progress({ task: retriever.name, done: ++done, total: queries.length, unit: "queries" });
  }
  return { run, latencies, cached, ...(compression ? { compression } : {}) };
}

type TokenCounts = { tokensBefore: number; tokensAfter: number };

function compressionOf(stages: StageTrace[]): TokenCounts | undefined {
  const d = stages.find((s) => s.stage === "compress")?.details;
  return d && typeof d["tokens_before"] === "number" && typeof d["tokens_after"] === "number"
    ? { tokensBefore: d["tokens_before"], tokensAfter: d["tokens_after"] }
    : undefined;
}

/** Reads a run file; a torn last line (the process stopped mid-write) is ignored. */
export async function readRunFile(file: string): Promise<Run> {
  const run: Run = new Map();
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return run;
    throw e;
  }
  for (const line of parseJsonLines(text)) {
    // a line cut short by an interrupted write is not JSON: that query is retrieved again
    if (!line.ok) continue;
    const row = line.value as { q?: unknown; docs?: unknown };
    if (typeof row.q === "string" && Array.isArray(row.docs)) run.set(row.q, row.docs as ScoredDoc[]);
  }
  return run;
}

/** One configuration's figures, flat, as `--json` prints them. */
export interface RetrievalResult {
  retriever: string;
  "ndcg@10": number;
  "recall@10": number;
  "recall@100": number;
  "mrr@10": number;
  map: number;
  /** Every metric computed, including other cutoffs. */
  metrics: QueryMetrics;
  queries: number;
  emptyQueries: number;
  /** Mean and 95th percentile retrieval time per query in this call; absent when all came from cache. */
  latencyMs?: { mean: number; p95: number };
  cachedQueries: number;
  /** For compressing configurations: retrieved tokens before/after and the share saved. */
  compression?: { tokensBefore: number; tokensAfter: number; saving: number };
}

/** Scores one retriever; `metricOptions` default to BEIR's cutoffs. */
export async function evaluateRetriever(
  retriever: Retriever,
  queries: EvalQuery[],
  qrels: Qrels,
  options: RunRetrievalOptions & { metrics?: MetricOptions } = {},
): Promise<RetrievalResult> {
  const { run, latencies, cached, compression } = await runRetrieval(retriever, queries, options);
  const scored = evaluateRun(qrels, run, { ks: [1, 3, 5, 10, 100], ...options.metrics });
  const m = scored.mean;
  return {
    retriever: retriever.name,
    "ndcg@10": m["ndcg@10"] ?? 0,
    "recall@10": m["recall@10"] ?? 0,
    "recall@100": m["recall@100"] ?? 0,
    "mrr@10": m["mrr@10"] ?? 0,
    map: m["map"] ?? 0,
    metrics: m,
    queries: scored.queries,
    emptyQueries: scored.emptyQueries,
    ...(latencies.length > 0 ? { latencyMs: latencySummary(latencies) } : {}),
    cachedQueries: cached,
    ...(compression
      ? {
          compression: {
            ...compression,
            saving: compression.tokensBefore > 0 ? 1 - compression.tokensAfter / compression.tokensBefore : 0,
          },
        }
      : {}),
  };
}

export function latencySummary(ms: number[]): { mean: number; p95: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length);
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? 0;
  return { mean, p95 };
}
