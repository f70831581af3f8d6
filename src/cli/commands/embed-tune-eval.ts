// What `embed tune --eval-beir DIR` adds around training: the starting and the tuned encoder scored
// side by side on a BEIR split (dense and hybrid with BM25, through eval/'s evaluateRetrievalConfigs
// as `infuse eval retrieval` runs it, in a LanceDB folder of the run's own), and the in-memory dense
// nDCG@10 the trainer calls at each evaluation. Leaves out instruction prefixes in the before/after
// (the engine embedder applies its model family's preset only).
import { rm } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../../core/config.js";
import type { TaskOptions } from "../../core/progress.js";
import { loadBeir } from "../../eval/beir.js";
import { evaluateRun, type Run } from "../../eval/metrics.js";
import { evaluateRetrievalConfigs } from "../../eval/run-retrieval.js";
import { parseRecipeShorthand } from "../../rag/recipe/shorthand.js";
import type { TextEncoder } from "../../train/embed/encode.js";

export interface BeforeAfterRow {
  model: "start" | "tuned";
  retriever: string;
  "ndcg@10": number;
  "recall@10": number;
  "recall@100": number;
  "mrr@10": number;
}

export interface BeforeAfterOptions extends TaskOptions {
  beir: string;
  split: string;
  /** The first N queries only. */
  limit?: number | undefined;
  config: ResolvedConfig;
  /** Where the two collections live (removed first: a tuned model at the same path has new weights). */
  dir: string;
  retrievers?: string[];
}

/** Scores `start` and `tuned` (encoder files or folders) with each retriever (dense, hybrid; bm25 once). */
export async function beforeAfter(start: string, tuned: string, o: BeforeAfterOptions): Promise<BeforeAfterRow[]> {
  await rm(o.dir, { recursive: true, force: true });
  const config: ResolvedConfig = { ...o.config, dataDir: o.dir };
  delete config.store; // LanceDB under dir, whatever store the config names
  const retrievers = o.retrievers ?? ["dense", "hybrid"];
  const rows: BeforeAfterRow[] = [];
  for (const [model, file] of [
    ["start", start],
    ["tuned", tuned],
  ] as const) {
    const report = await evaluateRetrievalConfigs({
      beir: o.beir,
      split: o.split,
      recipes: retrievers.map((r) => parseRecipeShorthand(r)),
      config,
      embedder: `engine:${path.resolve(file)}`,
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    for (const r of report.results) {
      const { retriever } = r;
      rows.push({
        model,
        retriever,
        "ndcg@10": r["ndcg@10"],
        "recall@10": r["recall@10"],
        "recall@100": r["recall@100"],
        "mrr@10": r["mrr@10"],
      });
    }
  }
  return rows;
}

/** The trainer's evaluator: dense nDCG@10 / recall@100 of the encoder being tuned, brute force in memory. */
export async function beirEvaluator(
  beir: string,
  split: string,
  limit: number | undefined,
  maxTokens: { query: number; passage: number },
  instructions: { query: string; passage: string },
): Promise<(encoder: TextEncoder) => Record<string, number>> {
  const data = await loadBeir(beir, { split });
  const queries = limit !== undefined ? data.queries.slice(0, limit) : data.queries;
  const docs = data.corpus.map((d) => instructions.passage + (d.title ? `${d.title}\n${d.text}` : d.text));
  return (encoder) => {
    const dim = encoder.model.config.dim;
    const p = encoder.embedNoGrad(docs, maxTokens.passage, 32);
    const q = encoder.embedNoGrad(
      queries.map((x) => instructions.query + x.text),
      maxTokens.query,
      32,
    );
    const run: Run = new Map();
    queries.forEach((query, i) => {
      const scores = data.corpus.map((d, j) => {
        let s = 0;
        for (let c = 0; c < dim; c++) s += q[i * dim + c]! * p[j * dim + c]!;
        return { id: d.id, score: s };
      });
      run.set(query.id, scores.sort((a, b) => b.score - a.score).slice(0, 100));
    });
    const m = evaluateRun(data.qrels, run, { ks: [10, 100] }).mean;
    return { "ndcg@10": m["ndcg@10"] ?? 0, "recall@100": m["recall@100"] ?? 0 };
  };
}
