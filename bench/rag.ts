// `npm run bench -- rag [--embedder SPEC] [--queries N] [--only scifact|memory]`: ingest throughput on
// SciFact (5,183 abstracts), query latency p50/p95 for BM25, dense and hybrid retrieval (no LLM), and
// ingest peak RSS on a 500-page PDF and 50,000 small files (rag-memory.ts, its flags pass through).
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/core/config.js";
import { ingestRecords, type IngestRecord } from "../src/rag/pipeline/ingest.js";
import { resolveEmbedder } from "../src/rag/pipeline/models.js";
import { createRetriever, type RetrievalMode } from "../src/rag/retrieve/index.js";
import { LanceDbStoreProvider } from "../src/rag/store/index.js";
import { fixture } from "../test/helpers/fixtures.js";
import { emit, log, peakRssMb, cpuFigure } from "./emit.js";
import { memoryFigures } from "./rag-memory.js";

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export default async function rag(args: string[]): Promise<void> {
  const only = flag(args, "--only", "");
  emit(cpuFigure("rag"));
  if (only !== "memory") await scifact(args);
  if (only !== "scifact") await memoryFigures(args);
}

async function scifact(args: string[]): Promise<void> {
  const spec = flag(args, "--embedder", "hash");
  const queryCount = Number(flag(args, "--queries", "300"));
  const corpus = readFileSync(fixture("datasets/scifact/corpus.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { _id: string; title: string; text: string });
  const records: IngestRecord[] = corpus.map((d) => ({ id: d._id, title: d.title, text: d.text }));
  const queries = readFileSync(fixture("datasets/scifact/queries.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { text: string }).text)
    .slice(0, queryCount);
  const config = await loadConfig();
  const embedder = await resolveEmbedder(spec, { config });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-bench-rag-"));
  const common = { corpus: "scifact", documents: records.length, embedder: embedder.id };
  try {
    log(`ingesting ${records.length} SciFact documents with ${embedder.id} …`);
    const report = await ingestRecords("scifact", records, {
      dataDir,
      embedder,
      embedderSpec: spec,
      source: "scifact",
    });
    const s = report.seconds;
    emit({
      bench: "rag",
      figure: "ingest_docs_per_s",
      value: +(records.length / s).toFixed(1),
      unit: "docs/s",
      seconds: +s.toFixed(2),
      ...common,
    });
    emit({
      bench: "rag",
      figure: "ingest_chunks_per_s",
      value: +(report.chunksAdded / s).toFixed(1),
      unit: "chunks/s",
      chunks: report.chunksAdded,
      ...common,
    });
    if (report.embeddedTokens !== undefined) {
      emit({
        bench: "rag",
        figure: "ingest_embed_tokens_per_s",
        value: Math.round(report.embeddedTokens / s),
        unit: "tokens/s",
        tokens: report.embeddedTokens,
        tokenizer: embedder.id,
        ...common,
      });
    }
    const again = await ingestRecords("scifact", records, { dataDir, embedder, embedderSpec: spec, source: "scifact" });
    emit({
      bench: "rag",
      figure: "reingest_unchanged_s",
      value: +again.seconds.toFixed(3),
      unit: "s",
      unchanged: again.unchanged,
      ...common,
    });

    const store = await new LanceDbStoreProvider(dataDir).open("scifact");
    for (const mode of ["bm25", "dense", "hybrid"] as RetrievalMode[]) {
      const retriever = createRetriever(mode, store, embedder);
      for (const q of queries.slice(0, 10)) await retriever.retrieve(q, { topK: 10 }); // warm-up
      const times: number[] = [];
      for (const q of queries) {
        const t = performance.now();
        await retriever.retrieve(q, { topK: 10 });
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const extra = { mode: retriever.name, queries: times.length, chunks: report.chunksTotal, top_k: 10, ...common };
      emit({
        bench: "rag",
        figure: `query_${mode}_p50_ms`,
        value: +percentile(times, 50).toFixed(2),
        unit: "ms",
        ...extra,
      });
      emit({
        bench: "rag",
        figure: `query_${mode}_p95_ms`,
        value: +percentile(times, 95).toFixed(2),
        unit: "ms",
        ...extra,
      });
    }
    store.close();
    emit({ bench: "rag", figure: "peak_rss_mb", value: peakRssMb(), unit: "MiB", ...common });
  } finally {
    await embedder.dispose?.();
    await rm(dataDir, { recursive: true, force: true });
  }
}
