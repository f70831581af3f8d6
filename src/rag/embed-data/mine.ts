// Hard negatives for training pairs: each query is searched in the corpus with a retriever infuse
// has (bm25, dense with any embedder, hybrid), candidates are taken from a rank range, those that
// are a positive (same id or text) or probably one (scoring above `maxRelative` × the positive's
// score, or within `margin` of it: NV-Retriever's positive-aware filter) are dropped, and
// `negatives` are drawn from the rest with a seeded draw per query. The scores compared are the
// reranker's when one is given, else BM25's (bm25) or cosine similarity (dense, hybrid: fused
// scores are ranks, not comparable with a positive's). Output: the pairs with neg/neg_ids/neg_scores.
import { performance } from "node:perf_hooks";
import type { ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { Rng } from "../../tensor/rng.js";
import { collectionEmbedder, DEFAULT_EMBEDDER_SPEC, resolveEmbedder } from "../pipeline/models.js";
import { buildRecipeRetriever, rerankerLoader, type RecipeRetriever } from "../recipe/index.js";
import type { Reranker } from "../rerank/reranker.js";
import { storeProvider, type StoreProvider } from "../store/index.js";
import type { Embedder, Hit } from "../types.js";
import { corpusPassages, miningIndex, normalize, type CorpusInput, type MiningIndex } from "./corpus.js";
import { passageSeed } from "./offline.js";
import { checkOptions, MineOptionsSchema, parseRange, type MineRetriever } from "./options.js";
import { pairsWriter, readPairs, type Pair } from "./pairs.js";
import { textId, type Passage } from "./passages.js";
import { resumePairs, runInOrder } from "./run.js";

export interface MineOptions extends TaskOptions {
  /** Data folder, store and model settings (collections, embedders, rerankers resolve through it). */
  config: ResolvedConfig;
  /** Where collections live; default `storeProvider(config)`. */
  store?: StoreProvider;
  /** The passages to search; default the pairs' own positives (FlagEmbedding's default pool). */
  corpus?: CorpusInput;
  /** Draw negatives from these passages instead of the corpus (a file or passages). */
  candidatePool?: string | Passage[];
  retriever?: MineRetriever;
  /** Embedder spec for dense/hybrid; default the collection's, else DEFAULT_EMBEDDER_SPEC. */
  embedder?: string;
  /** 1-based inclusive ranks to draw from: "2-200" or [2, 200]; default [2, 200]. */
  range?: string | [number, number];
  /** Negatives per query; default 15. */
  negatives?: number;
  /** Drop candidates scoring above this × the positive's score; default 0.95 (1: only above the positive). */
  maxRelative?: number;
  /** Also drop candidates scoring ≥ the positive's score − margin; default off. */
  margin?: number;
  /** A cross-encoder model (folder or hub reference) or `llm:SPEC` that re-scores candidates and positives. */
  reranker?: string;
  /** Queries in flight at once; default 4. */
  concurrency?: number;
  seed?: number;
  /** Write the mined pairs here (JSONL); an existing file is resumed: its pairs are kept and skipped. */
  out?: string;
}

export interface MineStats {
  queries: number;
  /** Queries an earlier run had mined (kept from `out`). */
  resumed: number;
  /** Candidates in the rank range, over all queries. */
  candidates: number;
  /** Candidates that were a positive (same id or same text). */
  droppedPositive: number;
  /** Candidates dropped as probable positives by --max-relative / --margin. */
  droppedProbablePositive: number;
  /** Queries whose positive was not in the corpus (no score: only same-id/text filtering applied). */
  positiveNotScored: number;
  /** Queries that got fewer than `negatives`, and the negatives they lack in all. */
  short: { queries: number; missing: number; none: number };
  negatives: { min: number; mean: number; max: number; histogram: Record<string, number> };
  collection: string;
  retriever: MineRetriever;
  range: [number, number];
  /** Corpus documents embedded for the mining index in this run (0: found built). */
  embedded: number;
  seconds: number;
}

export interface MineResult {
  pairs: Pair[];
  stats: MineStats;
  out?: string;
}

interface Context {
  retriever: RecipeRetriever;
  mode: MineRetriever;
  index: MiningIndex;
  embedder: Embedder;
  reranker: Reranker | undefined;
  range: [number, number];
  negatives: number;
  maxRelative: number;
  margin: number | undefined;
  seed: number;
  signal: AbortSignal | undefined;
}

interface Mined {
  pair: Pair;
  candidates: number;
  droppedPositive: number;
  droppedProbable: number;
  positiveScored: boolean;
}

const cosine = (a: Float32Array, b: Float32Array): number => {
  let dot = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
};

const docId = (hit: Hit): string => String(hit.chunk.metadata["doc_id"] ?? hit.chunk.id);

/** The positives' ids in the index (by id, else by text), and their texts for comparison. */
function positivesOf(pair: Pair, index: MiningIndex): { ids: Set<string>; indexed: (string | undefined)[] } {
  const ids = new Set(pair.pos_ids ?? []);
  const indexed = pair.pos.map((text, j) => {
    const given = pair.pos_ids?.[j];
    return given !== undefined && index.ids.has(given) ? given : index.idOfText.get(normalize(text));
  });
  for (const id of indexed) if (id !== undefined) ids.add(id);
  return { ids, indexed };
}

/** Scores of the positives (undefined: not computable) and of the candidates, on one scale. */
async function scores(pair: Pair, candidates: Hit[], all: Hit[], indexed: (string | undefined)[], c: Context) {
  const task = c.signal ? { signal: c.signal } : {};
  if (c.reranker) {
    const s = await c.reranker.score(pair.query, [...pair.pos, ...candidates.map((h) => h.chunk.text)], task);
    return { pos: s.slice(0, pair.pos.length) as (number | undefined)[], cand: s.slice(pair.pos.length) };
  }
  if (c.mode === "bm25") {
    const pos = await Promise.all(
      indexed.map(async (id) => {
        if (id === undefined) return undefined;
        const seen = all.find((h) => docId(h) === id);
        if (seen) return seen.score;
        // BM25 of the positive alone, with the whole collection's statistics; no hit = no shared term = 0
        const [hit] = await c.index.store.searchText(pair.query, { topK: 1, filter: { doc_id: id } });
        return hit?.score ?? 0;
      }),
    );
    return { pos, cand: candidates.map((h) => h.score) };
  }
  const [q] = await c.embedder.embedQueries([pair.query], task);
  const missing = candidates.filter((h) => h.sources?.["dense"] === undefined);
  const vectors = await c.embedder.embedPassages([...pair.pos, ...missing.map((h) => h.chunk.text)], task);
  const pos = vectors.slice(0, pair.pos.length).map((v) => cosine(q!, v));
  const computed = new Map(missing.map((h, i) => [h, cosine(q!, vectors[pair.pos.length + i]!)]));
  return { pos, cand: candidates.map((h) => h.sources?.["dense"]?.score ?? computed.get(h)!) };
}

async function mineOne(pair: Pair, i: number, c: Context): Promise<Mined> {
  const [from, to] = c.range;
  const all = await c.retriever.retrieve(pair.query, { topK: to, ...(c.signal ? { signal: c.signal } : {}) });
  const inRange = all.slice(from - 1, to);
  const { ids, indexed } = positivesOf(pair, c.index);
  const texts = new Set(pair.pos.map(normalize));
  const notPositive = inRange.filter((h) => !ids.has(docId(h)) && !texts.has(normalize(h.chunk.text)));
  const s = await scores(pair, notPositive, all, indexed, c);
  const known = s.pos.filter((x): x is number => x !== undefined);
  const posScore = known.length > 0 ? Math.min(...known) : undefined;
  const kept: { hit: Hit; score: number; rank: number }[] = [];
  notPositive.forEach((hit, k) => {
    const score = s.cand[k]!;
    if (posScore !== undefined) {
      if (posScore > 0 && score > c.maxRelative * posScore) return;
      if (c.margin !== undefined && score >= posScore - c.margin) return;
    }
    kept.push({ hit, score, rank: all.indexOf(hit) + 1 });
  });
  // a seeded partial Fisher–Yates draw, then rank order
  const rng = new Rng(passageSeed(c.seed, `${i}\0${pair.query}`));
  const n = Math.min(c.negatives, kept.length);
  for (let k = 0; k < n; k++) {
    const j = k + Math.floor(rng.uniform() * (kept.length - k));
    [kept[k], kept[j]] = [kept[j]!, kept[k]!];
  }
  const chosen = kept.slice(0, n).sort((a, b) => a.rank - b.rank);
  const out: Pair = {
    ...pair,
    neg: chosen.map((x) => x.hit.chunk.text),
    neg_ids: chosen.map((x) => docId(x.hit)),
    neg_scores: chosen.map((x) => x.score),
  };
  if (c.reranker || known.length === pair.pos.length) out.pos_scores = s.pos as number[];
  else delete out.pos_scores;
  return {
    pair: out,
    candidates: inRange.length,
    droppedPositive: inRange.length - notPositive.length,
    droppedProbable: notPositive.length - kept.length,
    positiveScored: posScore !== undefined,
  };
}

/** The pairs' positives as a corpus (ids from pos_ids, else a hash of the text). */
function positivesCorpus(pairs: readonly Pair[]): Passage[] {
  return pairs.flatMap((p) => p.pos.map((text, j) => ({ id: p.pos_ids?.[j] ?? textId(text), text })));
}

function rerankerSpec(spec: string) {
  return spec.startsWith("llm:")
    ? ({ kind: "llm", model: spec.slice(4) } as const)
    : ({ kind: "cross-encoder", model: spec } as const);
}

/**
 * Mines hard negatives for every pair (a pairs file or pairs in memory). Returns the pairs with
 * `neg`, `neg_ids`, `neg_scores` (and `pos_scores` where known) and the statistics; with `out`, also
 * writes them there, resuming a file an earlier run left.
 */
export async function mineNegatives(input: string | Pair[], options: MineOptions): Promise<MineResult> {
  const started = performance.now();
  checkOptions(MineOptionsSchema, {
    pairs: typeof input === "string" ? input : "(pairs)",
    out: options.out ?? "(none)",
    ...pick(options, [
      "retriever",
      "embedder",
      "negatives",
      "maxRelative",
      "margin",
      "reranker",
      "concurrency",
      "seed",
    ]),
    ...(typeof options.range === "string" ? { range: options.range } : {}),
  });
  const range = typeof options.range === "string" ? parseRange(options.range) : (options.range ?? [2, 200]);
  if (Array.isArray(options.range)) parseRange(`${options.range[0]}-${options.range[1]}`);
  const pairs = typeof input === "string" ? await readPairs(input) : input;
  const mode = options.retriever ?? "bm25";
  const provider = options.store ?? storeProvider(options.config);
  const models = { config: options.config, ...(options.signal ? { signal: options.signal } : {}) };
  const pool = options.candidatePool;
  const corpusInput: CorpusInput =
    pool !== undefined
      ? typeof pool === "string"
        ? { file: pool }
        : { passages: pool }
      : (options.corpus ?? { passages: positivesCorpus(pairs) });
  const passages = await corpusPassages(corpusInput, { config: options.config, store: provider });
  let embedderSpec = options.embedder ?? DEFAULT_EMBEDDER_SPEC;
  let embedder: Embedder;
  if (options.embedder === undefined && "collection" in corpusInput) {
    const manifest = await provider.requireManifest(corpusInput.collection);
    embedder = await collectionEmbedder(manifest.embedder, undefined, models);
    embedderSpec = manifest.embedder.spec;
  } else embedder = await resolveEmbedder(embedderSpec, models);
  const task = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const index = await miningIndex(passages, {
    config: options.config,
    store: provider,
    embedder,
    embedderSpec,
    ...task,
  });
  const reranker = options.reranker
    ? await rerankerLoader(options.config, options.signal)(rerankerSpec(options.reranker))
    : undefined;
  const retriever = await buildRecipeRetriever(
    { retriever: mode === "hybrid-weighted" ? { mode: "hybrid", fusion: "weighted" } : { mode }, top_k: range[1] },
    { stores: [index.store], embedder },
  );
  const done = options.out ? await resumePairs(options.out) : [];
  for (let k = 0; k < done.length; k++)
    if (pairs[k]?.query !== done[k]!.query)
      throw new InfuseError(
        "embed.resume_mismatch",
        `${options.out}:${k + 1} holds another query than the pairs' line ${k + 1}`,
        {
          kind: "usage",
          hint: "this --out was written from other pairs: give another --out, or delete it to start afresh",
          details: { file: options.out, line: k + 1 },
        },
      );
  const c: Context = {
    retriever,
    mode,
    index,
    embedder,
    reranker,
    range,
    negatives: options.negatives ?? 15,
    maxRelative: options.maxRelative ?? 0.95,
    margin: options.margin,
    seed: options.seed ?? 0,
    signal: options.signal,
  };
  const results: Mined[] = [];
  const writer = options.out ? await pairsWriter(options.out, { append: true }) : undefined;
  const todo = pairs.slice(done.length);
  try {
    await runInOrder(
      todo,
      options.concurrency ?? 4,
      (pair, k) => mineOne(pair, done.length + k, c),
      async (m) => {
        results.push(m);
        await writer?.write(m.pair);
        options.onProgress?.({
          task: "mine negatives",
          done: done.length + results.length,
          total: pairs.length,
          unit: "queries",
        });
      },
      options.signal,
    );
  } finally {
    await writer?.close();
    await retriever.dispose();
    await reranker?.dispose?.();
    index.store.close();
    await embedder.dispose?.();
  }
  const all = [...done, ...results.map((m) => m.pair)];
  const stats = mineStats(all, results, c, done.length, index, (performance.now() - started) / 1000);
  return { pairs: all, stats, ...(options.out ? { out: options.out } : {}) };
}

function mineStats(
  all: Pair[],
  mined: Mined[],
  c: Context,
  resumed: number,
  index: MiningIndex,
  seconds: number,
): MineStats {
  const counts = all.map((p) => p.neg?.length ?? 0);
  const histogram: Record<string, number> = {};
  for (const n of counts) histogram[String(n)] = (histogram[String(n)] ?? 0) + 1;
  const sum = (f: (m: Mined) => number) => mined.reduce((s, m) => s + f(m), 0);
  const short = counts.filter((n) => n < c.negatives);
  return {
    queries: all.length,
    resumed,
    candidates: sum((m) => m.candidates),
    droppedPositive: sum((m) => m.droppedPositive),
    droppedProbablePositive: sum((m) => m.droppedProbable),
    positiveNotScored: sum((m) => (m.positiveScored ? 0 : 1)),
    short: {
      queries: short.length,
      missing: short.reduce((s, n) => s + (c.negatives - n), 0),
      none: counts.filter((n) => n === 0).length,
    },
    negatives: {
      min: counts.length ? Math.min(...counts) : 0,
      mean: counts.length ? Math.round((counts.reduce((s, n) => s + n, 0) / counts.length) * 100) / 100 : 0,
      max: counts.length ? Math.max(...counts) : 0,
      histogram,
    },
    collection: index.collection,
    retriever: c.mode,
    range: c.range,
    embedded: index.embedded,
    seconds: Math.round(seconds * 100) / 100,
  };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
