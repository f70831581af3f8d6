// A whole retrieval evaluation as `infuse eval retrieval` runs it: load BEIR data, put the corpus
// in a collection once per embedder, build each configuration, run it (cached per configuration)
// and score it. Leaves out rendering (cli/) and HTML (report-html.ts).
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../core/config.js";
import type { TaskOptions } from "../core/progress.js";
import { englishAnalyzer } from "../rag/expand/analyzer.js";
import { buildTermStatistics, type TermStatistics } from "../rag/expand/term-stats.js";
import { openCollection } from "../rag/store/index.js";
import type { ChatModel } from "../rag/types.js";
import { loadBeir } from "./beir.js";
import { ingestBeirCorpus } from "./beir-collection.js";
import { buildRetriever, type ConfigContext } from "./configs.js";
import { resolveChatModel, resolveEmbedder, resolveReranker } from "./models.js";
import { evaluateRetriever, type RetrievalResult } from "./retrieval.js";

export interface RetrievalEvalOptions extends TaskOptions {
  beir: string;
  split?: string;
  configs: string[];
  topK?: number;
  config: ResolvedConfig;
  /** Embedder spec for the corpus; default "hash". */
  embedder?: string;
  reranker?: string;
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
  results: RetrievalResult[];
}

export async function evaluateRetrievalConfigs(options: RetrievalEvalOptions): Promise<RetrievalReport> {
  const topK = options.topK ?? 100;
  const task: TaskOptions = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const dataset = await loadBeir(options.beir, { split: options.split ?? "test" });
  const embedderSpec = options.embedder ?? "hash";
  const embedder = await resolveEmbedder(embedderSpec, options.config);
  let llm: ChatModel | undefined;
  try {
    const { collection, report } = await ingestBeirCorpus(dataset, {
      dataDir: options.config.dataDir,
      embedder,
      embedderSpec,
      ...task,
    });
    options.onNote?.(
      `collection ${collection}: ${report.chunksAdded} documents embedded, ${report.unchanged} already there`,
    );
    llm = options.llm ? await resolveChatModel(options.llm, options.config) : undefined;
    const reranker = options.reranker ? await resolveReranker(options.reranker, options.config, llm) : undefined;
    const store = await openCollection(options.config.dataDir, collection);
    let stats: TermStatistics | undefined;
    const analyzer = englishAnalyzer();
    const ctx: ConfigContext = {
      store,
      embedder,
      termStats: () =>
        (stats ??= buildTermStatistics(
          dataset.corpus.map((d) => `${d.title}\n${d.text}`),
          analyzer,
        )),
      ...(llm ? { llm } : {}),
      ...(reranker ? { reranker } : {}),
    };
    const results: RetrievalResult[] = [];
    try {
      for (const spec of options.configs) {
        const retriever = buildRetriever(spec, ctx);
        const key = [spec, topK, options.reranker ?? "", options.llm ?? ""].join("|");
        const cacheFile = path.join(
          options.config.dataDir,
          "eval",
          "runs",
          collection,
          `${spec.replace(/[^a-zA-Z0-9+-]+/g, "_")}-${sha(key).slice(0, 8)}.jsonl`,
        );
        if (options.fresh) await rm(cacheFile, { force: true });
        results.push(await evaluateRetriever(retriever, dataset.queries, dataset.qrels, { topK, cacheFile, ...task }));
      }
    } finally {
      store.close();
    }
    return {
      dataset: path.basename(dataset.dir),
      split: dataset.split,
      queries: dataset.queries.length,
      documents: dataset.corpus.length,
      collection,
      embedder: embedder.id,
      topK,
      results,
    };
  } finally {
    await embedder.dispose?.();
    await llm?.dispose?.();
  }
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
