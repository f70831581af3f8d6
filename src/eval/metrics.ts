// Ranking metrics exactly as trec_eval 9 (and so pytrec_eval and BEIR) define them: nDCG@k with
// graded linear gains and a log2(rank+1) discount, recall@k, MRR@k, MAP, P@k. Leaves out the
// rarer trec_eval measures (bpref, infAP, judged-only ranking).

/** Relevance judgments: query id → document id → graded relevance (0 = judged not relevant). */
export type Qrels = Map<string, Map<string, number>>;

/** A ranked list for one query: document ids with scores (any order; sorted as trec_eval sorts). */
export interface ScoredDoc {
  id: string;
  score: number;
}

/** A run: query id → retrieved documents. */
export type Run = Map<string, ScoredDoc[]>;

export interface MetricOptions {
  /** Cutoffs for nDCG, recall and precision; default [1, 3, 5, 10, 100, 1000] as BEIR. */
  ks?: number[];
  /** Cutoff for MRR (BEIR reports MRR@10). */
  mrrK?: number;
  /** Minimum grade counted as relevant (trec_eval's relevance_level, default 1). */
  relevanceLevel?: number;
  /** Drop hits whose id equals the query id, as BEIR does by default. */
  ignoreIdenticalIds?: boolean;
}

/** Metrics of one query, keyed like "ndcg@10", "recall@100", "mrr@10", "map", "p@10". */
export type QueryMetrics = Record<string, number>;

export interface RunMetrics {
  /** Mean over the evaluated queries. */
  mean: QueryMetrics;
  perQuery: Map<string, QueryMetrics>;
  /** Queries evaluated: those in the qrels with at least one relevant document. */
  queries: number;
  /** Evaluated queries for which the run had no documents (they score 0). */
  emptyQueries: number;
}

export const DEFAULT_KS = [1, 3, 5, 10, 100, 1000];

/** trec_eval's order: score descending, ties broken by document id in descending byte order. */
export function trecSort(docs: readonly ScoredDoc[]): ScoredDoc[] {
  return [...docs].sort((a, b) => b.score - a.score || compareBytes(b.id, a.id));
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Metrics of one ranked list against one query's judgments. */
export function evaluateQuery(
  judged: ReadonlyMap<string, number>,
  docs: readonly ScoredDoc[],
  options: MetricOptions = {},
): QueryMetrics {
  const ks = options.ks ?? DEFAULT_KS;
  const mrrK = options.mrrK ?? 10;
  const level = options.relevanceLevel ?? 1;
  const ranked = dedupe(trecSort(docs));
  const rels = ranked.map((d) => judged.get(d.id) ?? 0);
  const grades = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a);
  const numRel = [...judged.values()].filter((g) => g >= level).length;
  const out: QueryMetrics = {};

  for (const k of ks) {
    out[`ndcg@${k}`] = ndcgAt(rels, grades, k);
    const relRet = rels.slice(0, k).filter((g) => g >= level).length;
    out[`recall@${k}`] = numRel === 0 ? 0 : relRet / numRel;
    out[`p@${k}`] = relRet / k;
  }
  const first = rels.findIndex((g) => g >= level);
  out[`mrr@${mrrK}`] = first >= 0 && first < mrrK ? 1 / (first + 1) : 0;
  out["map"] = averagePrecision(rels, level, numRel);
  return out;
}

/** DCG of the list cut at k over the ideal DCG of the judged grades cut at k (0 when no grade > 0). */
function ndcgAt(rels: number[], idealGrades: number[], k: number): number {
  const ideal = dcg(idealGrades, k);
  return ideal > 0 ? dcg(rels, k) / ideal : 0;
}

function dcg(gains: number[], k: number): number {
  let sum = 0;
  const n = Math.min(k, gains.length);
  for (let i = 0; i < n; i++) {
    const g = gains[i]!;
    if (g > 0) sum += g / Math.log2(i + 2); // document i has rank i+1
  }
  return sum;
}

/** trec_eval `map`: the precision at each relevant retrieved document, summed, over all relevant. */
function averagePrecision(rels: number[], level: number, numRel: number): number {
  if (numRel === 0) return 0;
  let found = 0;
  let sum = 0;
  rels.forEach((g, i) => {
    if (g >= level) {
      found++;
      sum += found / (i + 1);
    }
  });
  return sum / numRel;
}

/** Keeps the first (best-ranked) occurrence of each id; trec_eval refuses duplicates, BEIR keeps one. */
function dedupe(docs: ScoredDoc[]): ScoredDoc[] {
  const seen = new Set<string>();
  return docs.filter((d) => (seen.has(d.id) ? false : (seen.add(d.id), true)));
}

/**
 * Evaluates a run over every query of the qrels that has a relevant document (others are skipped,
 * as BEIR does); a query missing from the run scores 0 on every metric.
 */
export function evaluateRun(qrels: Qrels, run: Run, options: MetricOptions = {}): RunMetrics {
  const level = options.relevanceLevel ?? 1;
  const perQuery = new Map<string, QueryMetrics>();
  let emptyQueries = 0;
  for (const [qid, judged] of qrels) {
    if (![...judged.values()].some((g) => g >= level)) continue;
    let docs = run.get(qid) ?? [];
    if (options.ignoreIdenticalIds ?? true) docs = docs.filter((d) => d.id !== qid);
    if (docs.length === 0) emptyQueries++;
    perQuery.set(qid, evaluateQuery(judged, docs, options));
  }
  return { mean: meanOf([...perQuery.values()]), perQuery, queries: perQuery.size, emptyQueries };
}

function meanOf(rows: QueryMetrics[]): QueryMetrics {
  const mean: QueryMetrics = {};
  if (rows.length === 0) return mean;
  for (const key of Object.keys(rows[0]!)) {
    mean[key] = rows.reduce((s, r) => s + (r[key] ?? 0), 0) / rows.length;
  }
  return mean;
}
