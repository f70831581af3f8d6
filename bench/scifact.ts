// SciFact (BEIR test split): nDCG@10, recall@10/100, MRR@10 and MAP of BM25 (the store's
// full-text index), BM25+RM3, and the model-free hashing embedder dense/hybrid. Published
// reference: Lucene BM25 nDCG@10 0.665 (BEIR paper, flat index of title + text).
// Usage: npm run bench -- scifact [--configs bm25,bm25+rm3] [--data DIR] [--rm3-sweep]
// --rm3-sweep adds BM25+RM3 over fbDocs × fbTerms × original-query weight (test-set tuning:
// for reading only, not a figure to report as a result).
import os from "node:os";
import path from "node:path";
import { loadBeir } from "../src/eval/beir.js";
import { ingestBeirCorpus } from "../src/eval/beir-collection.js";
import { buildRecipeRetriever } from "../src/rag/recipe/build.js";
import { parseRecipeShorthand } from "../src/rag/recipe/shorthand.js";
import { evaluateRetriever, type RetrievalResult } from "../src/eval/retrieval.js";
import { Rm3Retriever } from "../src/rag/expand/rm3.js";
import { createRetriever } from "../src/rag/retrieve/index.js";
import { englishAnalyzer } from "../src/rag/expand/analyzer.js";
import { buildTermStatistics } from "../src/rag/expand/term-stats.js";
import { HashingEmbedder } from "../src/rag/embed/hashing.js";
import { LanceDbStoreProvider } from "../src/rag/store/index.js";
import { fixture } from "../test/helpers/fixtures.js";
import { emit, log } from "./emit.js";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export default async function scifact(args: string[]): Promise<void> {
  const configs = (flag(args, "--configs") ?? "bm25,bm25+rm3,dense,hybrid").split(",");
  const dataDir = flag(args, "--data") ?? path.join(os.tmpdir(), "infuse-bench-scifact");
  const dataset = await loadBeir(fixture("datasets/scifact"), { split: "test" });
  log(`scifact: ${dataset.corpus.length} docs, ${dataset.queries.length} test queries; data in ${dataDir}`);
  const embedder = new HashingEmbedder();
  const started = performance.now();
  const { collection, report } = await ingestBeirCorpus(dataset, { dataDir, embedder, embedderSpec: "hash" });
  log(
    `ingest: ${report.chunksAdded} chunks added, ${report.unchanged} unchanged, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const store = await new LanceDbStoreProvider(dataDir).open(collection);
  const analyzer = englishAnalyzer();
  const termStats = () =>
    buildTermStatistics(
      dataset.corpus.map((d) => `${d.title}\n${d.text}`),
      analyzer,
    );
  try {
    for (const config of configs) {
      const retriever = await buildRecipeRetriever(parseRecipeShorthand(config), {
        stores: [store],
        embedder,
        termStats,
      });
      const t0 = performance.now();
      const r = await evaluateRetriever(retriever, dataset.queries, dataset.qrels, { topK: 100 });
      emit({
        ...figures(r, t0),
        ...(config === "bm25" ? { reference: { "ndcg@10": 0.665, source: "BEIR paper, Lucene BM25" } } : {}),
      });
    }
    if (args.includes("--rm3-sweep")) {
      const bm25 = createRetriever("bm25", store, undefined);
      const stats = termStats();
      for (const fbDocs of [3, 10])
        for (const fbTerms of [10, 20])
          for (const originalQueryWeight of [0.5, 0.7, 0.9]) {
            const rm3 = new Rm3Retriever(bm25, { fbDocs, fbTerms, originalQueryWeight, stats });
            const t0 = performance.now();
            const r = await evaluateRetriever(rm3, dataset.queries, dataset.qrels, { topK: 100 });
            emit({ ...figures(r, t0), rm3: { fbDocs, fbTerms, originalQueryWeight } });
          }
    }
  } finally {
    store.close();
  }
}

function figures(r: RetrievalResult, started: number): Record<string, unknown> {
  return {
    bench: "scifact",
    split: "test",
    retriever: r.retriever,
    "ndcg@10": round(r["ndcg@10"]),
    "recall@10": round(r["recall@10"]),
    "recall@100": round(r["recall@100"]),
    "mrr@10": round(r["mrr@10"]),
    map: round(r.map),
    queries: r.queries,
    seconds: round((performance.now() - started) / 1000),
  };
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
