// The complete embedding-tuning path on SciFact: offline pairs (title, inverse cloze) over the corpus
// + the train-qrel pairs → BM25-mined hard negatives (embed-data) → `tuneEmbedder` from a
// MiniLM-shaped encoder with the real MiniLM vocabulary and random weights (no pretrained encoder can
// be downloaded here) → dense and hybrid nDCG@10 on the test split for the start and the tuned model,
// BM25 alone beside them. One JSON line per model × retriever, plus the times.
// Usage: npm run bench -- embed-scifact [--data DIR] [--offline N] [--steps N] [--hidden H] [--layers L]
//        [--batch B] [--group G] [--lr LR] [--limit Q] [--workers N] [--context T] [--passage-length T]
// Defaults (96 wide, 1 block, 128 tokens, 120 steps) fit ~30 min on 2 shared cores; MiniLM-L6 is
// 384 wide with 6 blocks (--hidden 384 --layers 6 --context 256 on a quiet machine).
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ResolvedConfig } from "../src/core/config.js";
import { loadBeir } from "../src/eval/beir.js";
import { mineNegatives, offlinePairs, qrelPairs, writePairs } from "../src/rag/embed-data/index.js";
import { tuneEmbedder } from "../src/train/embed/tune.js";
import { beforeAfter } from "../src/cli/commands/embed-tune-eval.js";
import { fixture } from "../test/helpers/fixtures.js";
import { writeTinyBertGguf } from "../test/helpers/tiny-bert-gguf.js";
import { emit, log, cpuFigure } from "./emit.js";

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
}

const secs = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

export default async function embedScifact(args: string[]): Promise<void> {
  const dataDir = flag(args, "--data", path.join(os.tmpdir(), "infuse-bench-embed-scifact"));
  const offlineLimit = Number(flag(args, "--offline", "2000"));
  const steps = Number(flag(args, "--steps", "120"));
  const hidden = Number(flag(args, "--hidden", "96"));
  const layers = Number(flag(args, "--layers", "1"));
  const batchSize = Number(flag(args, "--batch", "32"));
  const groupSize = Number(flag(args, "--group", "4"));
  const lr = Number(flag(args, "--lr", "1e-3"));
  const workers = Number(flag(args, "--workers", "1"));
  const context = Number(flag(args, "--context", "128"));
  const passageLength = Number(flag(args, "--passage-length", "96"));
  const limit = args.includes("--limit") ? Number(flag(args, "--limit", "0")) : undefined;
  mkdirSync(dataDir, { recursive: true });
  const config: ResolvedConfig = {
    file: undefined,
    cacheDir: path.join(dataDir, "cache"),
    dataDir,
    hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
    rag: {},
  };
  emit(cpuFigure("embed-scifact"));
  emit({ bench: "embed-scifact", figure: "load", loadavg: load() });
  const started = performance.now();

  // 1. pairs: train-qrel queries + a sample of offline pairs, BM25-mined negatives
  let t0 = performance.now();
  const scifact = fixture("datasets/scifact");
  const train = await loadBeir(scifact, { split: "train" });
  const offline = offlinePairs(train.corpus);
  const every = Math.max(1, Math.floor(offline.length / offlineLimit));
  const sample = offline.filter((_, i) => i % every === 0).slice(0, offlineLimit);
  const pairs = [...qrelPairs(train).pairs, ...sample];
  const mined = await mineNegatives(pairs, {
    config,
    corpus: { passages: train.corpus },
    range: "2-200",
    negatives: Math.max(1, groupSize - 1) * 2,
    seed: 0,
  });
  const pairsFile = path.join(dataDir, "scifact-mined.jsonl");
  await writePairs(pairsFile, mined.pairs);
  const dataSeconds = secs(t0);
  emit({
    bench: "embed-scifact",
    figure: "pairs",
    pairs: mined.pairs.length,
    qrel_pairs: pairs.length - sample.length,
    offline_pairs: sample.length,
    short_of_negatives: mined.stats.short,
    seconds: dataSeconds,
  });

  // 2. the starting encoder: MiniLM's vocabulary and layout, narrower and shallower (see docs)
  const start = await writeTinyBertGguf(path.join(dataDir, `start-h${hidden}-l${layers}.gguf`), {
    hidden,
    layers,
    heads: Math.max(1, hidden / 32),
    ff: hidden * 4,
    context,
    seed: 1,
  });

  // 3. tune
  t0 = performance.now();
  const out = path.join(dataDir, "tuned");
  const tuned = await tuneEmbedder(
    {
      model: start,
      data: [pairsFile],
      out,
      overwrite: true,
      maxSteps: steps,
      batchSize,
      groupSize,
      lr,
      warmupSteps: Math.round(steps / 10),
      temperature: 0.05,
      queryMaxLength: 64,
      passageMaxLength: passageLength,
      gradCacheChunk: 0,
      valFraction: 0.02,
      evalEvery: Math.max(1, Math.round(steps / 5)),
      workers,
    },
    {
      onMetric: (m) =>
        m.eval_loss !== undefined &&
        log(
          `step ${m.step}: loss ${m.loss?.toFixed(3)} eval ${m.eval_loss.toFixed(3)} acc ${m["eval_accuracy"]?.toFixed(3)}`,
        ),
    },
  );
  const trainSeconds = secs(t0);
  emit({
    bench: "embed-scifact",
    figure: "train",
    steps: tuned.steps,
    hidden,
    layers,
    batch: batchSize,
    group: groupSize,
    lr,
    final_loss: tuned.finalLoss,
    first_eval_loss: tuned.firstEvalLoss,
    last_eval_loss: tuned.lastEvalLoss,
    tokens_per_s: Math.round(tuned.tokensPerSecond),
    seconds: trainSeconds,
    loadavg: load(),
  });

  // 4. before/after on the test split
  t0 = performance.now();
  const rows = await beforeAfter(start, tuned.modelDir, {
    beir: scifact,
    split: "test",
    limit,
    config,
    dir: path.join(dataDir, "eval"),
    retrievers: ["bm25", "dense", "hybrid"],
  });
  for (const r of rows) {
    if (r.retriever === "bm25" && r.model === "tuned") continue; // BM25 does not depend on the model
    emit({
      bench: "embed-scifact",
      model: r.retriever === "bm25" ? "none" : r.model,
      retriever: r.retriever,
      "ndcg@10": Math.round(r["ndcg@10"] * 1000) / 1000,
      "recall@100": Math.round(r["recall@100"] * 1000) / 1000,
      "mrr@10": Math.round(r["mrr@10"] * 1000) / 1000,
    });
  }
  const ndcg = (model: string, retriever: string) =>
    rows.find((r) => r.model === model && r.retriever === retriever)!["ndcg@10"];
  const gain = ndcg("tuned", "dense") - ndcg("start", "dense");
  emit({
    bench: "embed-scifact",
    figure: "summary",
    dense_gain: Math.round(gain * 1000) / 1000,
    goal: 0.1,
    met: gain >= 0.1,
    seconds: { data: dataSeconds, train: trainSeconds, eval: secs(t0), total: secs(started) },
    loadavg: load(),
  });
  writeFileSync(path.join(dataDir, "before-after.json"), JSON.stringify(rows, null, 2));
}
