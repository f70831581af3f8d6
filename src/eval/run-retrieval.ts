// A whole retrieval evaluation as `infuse eval retrieval` runs it: load BEIR data, put the corpus
// in a collection once per embedder, build each recipe's retriever (rag/recipe, as `ask` does),
// run it (cached per recipe) and score it. An interrupted evaluation returns the recipes already
// finished. Leaves out rendering (cli/) and HTML (report-html.ts).
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../core/config.js";
import { isInfuseError } from "../core/errors.js";
import type { TaskOptions } from "../core/progress.js";
import { englishAnalyzer } from "../rag/expand/analyzer.js";
import { buildTermStatistics, type TermStatistics } from "../rag/expand/term-stats.js";
import { buildRecipeRetriever } from "../rag/recipe/build.js";
import { rerankerLoader } from "../rag/recipe/models.js";
import type { Recipe } from "../rag/recipe/schema.js";
import { recipeName } from "../rag/recipe/shorthand.js";
import { storeProvider } from "../rag/store/index.js";
import type { ChatModel } from "../rag/types.js";
import { loadBeir } from "./beir.js";
import { ingestBeirCorpus } from "./beir-collection.js";
import { DEFAULT_EMBEDDER_SPEC } from "../rag/pipeline/models.js";
import { resolveChatModel, resolveEmbedder } from "./models.js";
import { evaluateRetriever, type RetrievalResult } from "./retrieval.js";

export interface RetrievalEvalOptions extends TaskOptions {
  beir: string;
  split?: string;
  /** The recipes compared (`parseRecipeShorthand("bm25+rm3")`, recipe files); top_k is the eval's. */
  recipes: Recipe[];
  topK?: number;
  /** Evaluate only the first N queries (in the order of queries.jsonl): a quick subset. */
  limit?: number;
  config: ResolvedConfig;
  /** Embedder spec for the corpus; default the one new collections get (DEFAULT_EMBEDDER_SPEC). */
  embedder?: string;
  /** Chat model for LLM techniques and an `llm` reranker. */
  llm?: string;
  /** Drop cached runs first. */
  fresh?: boolean;
  /** Lines for people (ingest summary), not results. */
  onNote?: (text: string) => void;
}

export interface RetrievalReport {
  dataset: string;
  split: string;
  queries: number;
  documents: number;
  collection: string;
  embedder: string;
  topK: number;
  /** The --limit the queries were cut to. */
  limit?: number;
  /** Set when the evaluation was interrupted: `results` holds the recipes finished before. */
  interrupted?: boolean;
  results: RetrievalResult[];
}

export async function evaluateRetrievalConfigs(options: RetrievalEvalOptions): Promise<RetrievalReport> {
  const topK = options.topK ?? 100;
  const task: TaskOptions = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const loaded = await loadBeir(options.beir, { split: options.split ?? "test" });
  const queries = options.limit !== undefined ? loaded.queries.slice(0, options.limit) : loaded.queries;
  const ids = new Set(queries.map((q) => q.id));
  const qrels = options.limit !== undefined ? new Map([...loaded.qrels].filter(([q]) => ids.has(q))) : loaded.qrels;
  const embedderSpec = options.embedder ?? DEFAULT_EMBEDDER_SPEC;
  const embedder = await resolveEmbedder(embedderSpec, options.config);
  let llm: ChatModel | undefined;
  try {
    const provider = storeProvider(options.config);
    const { collection, report } = await ingestBeirCorpus(loaded, {
      dataDir: options.config.dataDir,
      store: provider,
      embedder,
      embedderSpec,
      ...task,
    });
    options.onNote?.(
      `collection ${collection}: ${report.chunksAdded} documents embedded, ${report.unchanged} already there`,
    );
    llm = options.llm ? await resolveChatModel(options.llm, options.config) : undefined;
    const store = await provider.open(collection);
    let stats: TermStatistics | undefined;
    const analyzer = englishAnalyzer();
    const termStats = () =>
      (stats ??= buildTermStatistics(
        loaded.corpus.map((d) => `${d.title}\n${d.text}`),
        analyzer,
      ));
    const results: RetrievalResult[] = [];
    let interrupted = false;
    try {
      for (const recipe of options.recipes) {
        const retriever = await buildRecipeRetriever(recipe, {
          stores: [store],
          embedder,
          termStats,
          loadReranker: rerankerLoader(options.config, options.signal),
          ...(llm ? { llm } : {}),
        });
        const name = recipeName(recipe);
        // the store is part of the key: the same collection name in LanceDB and Postgres are two runs
        const key = JSON.stringify([retriever.recipe, topK, options.llm ?? "", provider.describe()]);
        const cacheFile = path.join(
          options.config.dataDir,
          "eval",
          "runs",
          collection,
          `${name.replace(/[^a-zA-Z0-9+-]+/g, "_")}-${sha(key).slice(0, 8)}.jsonl`,
        );
        try {
          if (options.fresh) await rm(cacheFile, { force: true });
          results.push(await evaluateRetriever(retriever, queries, qrels, { topK, cacheFile, ...task }));
        } catch (e) {
          // Ctrl-C: report what finished (the cache keeps this recipe's queries for a resume)
          if (isInfuseError(e) && e.kind === "cancelled") {
            interrupted = true;
            break;
          }
          throw e;
        } finally {
          await retriever.dispose();
        }
      }
    } finally {
      store.close();
    }
    return {
      dataset: path.basename(loaded.dir),
      split: loaded.split,
      queries: queries.length,
      documents: loaded.corpus.length,
      collection,
      embedder: embedder.id,
      topK,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(interrupted ? { interrupted } : {}),
      results,
    };
  } finally {
    await embedder.dispose?.();
    await llm?.dispose?.();
  }
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
