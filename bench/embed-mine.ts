// Training data for embedding tuning on SciFact: offline pairs (title, inverse cloze) over the corpus,
// pairs from the train qrels, and BM25 hard-negative mining over the corpus (ranks 2-200, 15
// negatives, --max-relative 0.95), with counts, mining statistics and times. Reference in the same
// run: plain BM25 retrieval of the same queries at top 200 (the retrieval mining cannot avoid), so
// `mine_over_retrieval` is what the filtering, scoring of positives and writing cost on top.
// Usage: npm run bench -- embed-mine [--data DIR] [--offline N] [--out DIR]
import os from "node:os";
import path from "node:path";
import { loadBeir } from "../src/eval/beir.js";
import { mineNegatives, offlinePairs, qrelPairs, writePairs, type Pair } from "../src/rag/embed-data/index.js";
import { Bm25Retriever } from "../src/rag/retrieve/index.js";
import { storeProvider } from "../src/rag/store/index.js";
import type { ResolvedConfig } from "../src/core/config.js";
import { fixture } from "../test/helpers/fixtures.js";
import { emit, log, cpuFigure } from "./emit.js";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const secs = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;

export default async function embedMine(args: string[]): Promise<void> {
  const dataDir = flag(args, "--data") ?? path.join(os.tmpdir(), "infuse-bench-embed-mine");
  const outDir = flag(args, "--out") ?? dataDir;
  const offlineLimit = Number(flag(args, "--offline") ?? "1000");
  const config: ResolvedConfig = {
    file: undefined,
    cacheDir: path.join(dataDir, "cache"),
    dataDir,
    hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
    rag: {},
  };
  emit(cpuFigure("embed-mine"));
  emit({ bench: "embed-mine", figure: "load", loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) });
  let t0 = performance.now();
  const beir = await loadBeir(fixture("datasets/scifact"), { split: "train" });
  log(`scifact: ${beir.corpus.length} docs, ${beir.queries.length} train queries (${secs(t0)} s)`);

  t0 = performance.now();
  const offline = offlinePairs(beir.corpus);
  const bySource = (pairs: Pair[]) =>
    pairs.reduce<Record<string, number>>((m, p) => ((m[p.source!] = (m[p.source!] ?? 0) + 1), m), {});
  emit({
    bench: "embed-mine",
    figure: "offline-pairs",
    passages: beir.corpus.length,
    pairs: offline.length,
    sources: bySource(offline),
    seconds: secs(t0),
  });

  t0 = performance.now();
  const qrels = qrelPairs(beir);
  emit({
    bench: "embed-mine",
    figure: "qrel-pairs",
    queries: beir.queries.length,
    pairs: qrels.pairs.length,
    positives: qrels.pairs.reduce((s, p) => s + p.pos.length, 0),
    without_positive: qrels.withoutPositive,
    seconds: secs(t0),
  });

  // the offline pairs to mine: a seeded-order sample (every k-th), so the run stays minutes
  const step = Math.max(1, Math.floor(offline.length / offlineLimit));
  const sample = offline.filter((_, i) => i % step === 0).slice(0, offlineLimit);
  const pairs = [...qrels.pairs, ...sample];
  await writePairs(path.join(outDir, "scifact-pairs.jsonl"), pairs);
  const corpus = { passages: beir.corpus };

  // build (or find) the mining index first, so its one-off ingest is not in either timing
  t0 = performance.now();
  const warm = await mineNegatives(pairs.slice(0, 1), { config, corpus, range: "2-200" });
  log(`mining index ${warm.stats.collection}: ${warm.stats.embedded} documents embedded (${secs(t0)} s)`);

  const provider = storeProvider(config);
  const store = await provider.open(warm.stats.collection);
  t0 = performance.now();
  const bm25 = new Bm25Retriever(store);
  for (const p of pairs) await bm25.retrieve(p.query, { topK: 200 });
  const retrieval = secs(t0);
  store.close();

  t0 = performance.now();
  const mined = await mineNegatives(pairs, { config, corpus, range: "2-200", negatives: 15, concurrency: 1, seed: 0 });
  const mining = secs(t0);
  await writePairs(path.join(outDir, "scifact-mined.jsonl"), mined.pairs);
  emit({
    bench: "embed-mine",
    figure: "bm25-mining",
    queries: mined.stats.queries,
    qrel_queries: qrels.pairs.length,
    offline_queries: sample.length,
    candidates: mined.stats.candidates,
    dropped_positive: mined.stats.droppedPositive,
    dropped_probable_positive: mined.stats.droppedProbablePositive,
    short: mined.stats.short,
    negatives: mined.stats.negatives,
    seconds: mining,
    queries_per_second: Math.round((mined.stats.queries / mining) * 10) / 10,
    reference_bm25_top200_seconds: retrieval,
    mine_over_retrieval: Math.round((mining / retrieval) * 100) / 100,
    loadavg_after: os.loadavg().map((x) => Math.round(x * 100) / 100),
  });
  log(`wrote ${path.join(outDir, "scifact-pairs.jsonl")} and ${path.join(outDir, "scifact-mined.jsonl")}`);
}
