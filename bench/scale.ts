// `npm run bench -- scale [--chunks N] [--queries Q] [--ingest-chunks M] [--kind ivf_pq|ivf_hnsw_sq]
// [--min-rows R] [--dir D] [--measure-only]`:
// a LanceDB collection of N synthetic 384-dimension chunks with text (default 1,000,000) built through
// the real ingest pipeline, so the ANN index is built by the commits themselves; then recall@10 of
// the index against exact search, dense and hybrid query latency (p50/p95), index build time and disk
// size, ingest chunks/s through the job queue with 1 and 2 workers, and peak RSS. The vectors come
// from a seeded clustered model (topic centres + noise) keyed by the chunk's text, as an embedder would.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { ResolvedConfig } from "../src/core/config.js";
import { jobHandlers } from "../src/jobs/handlers.js";
import { LocalJobQueue } from "../src/jobs/local-queue.js";
import { ingestSources } from "../src/rag/pipeline/ingest.js";
import { createRetriever } from "../src/rag/retrieve/index.js";
import type { Source } from "../src/rag/source/index.js";
import type { AnnKind, AnnSettings } from "../src/rag/store/lance-index.js";
import { lance, type LanceCollection } from "../src/rag/store/lancedb.js";
import { LanceDbStoreProvider, PostgresStoreProvider } from "../src/rag/store/index.js";
import { ensureHnsw, tablesOf } from "../src/rag/store/postgres/tables.js";
import type { Embedder } from "../src/rag/types.js";
import { emit, log, peakRssMb, cpuFigure } from "./emit.js";

const DIM = 384;
const TOPICS = 2000;
const PER_UNIT = 100;
const NOISE = 0.3;

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

const centres: Float32Array[] = (() => {
  const r = rng(7);
  return Array.from({ length: TOPICS }, () => normalize(Float32Array.from({ length: DIM }, () => gauss(r))));
})();

const SUBTOPICS = 50;

/** A seeded unit vector per (topic, subtopic). */
function subCentre(topic: number, sub: number): Float32Array {
  const r = rng(topic * 1009 + sub + 1);
  return normalize(Float32Array.from({ length: DIM }, () => gauss(r)));
}

/**
 * A text's vector: its topic's centre (the `tNNNN` word), half its subtopic's (`sNN`), and noise
 * seeded by the text itself, so neighbours have the nested structure of real embeddings.
 */
function vectorOf(text: string, noise = NOISE): Float32Array {
  const m = /t(\d+) s(\d+)/.exec(text);
  const topic = Number(m?.[1] ?? fnv(text)) % TOPICS;
  const sub = subCentre(topic, Number(m?.[2] ?? 0) % SUBTOPICS);
  const r = rng(fnv(text));
  const c = centres[topic]!;
  const scale = noise / Math.sqrt(DIM);
  return normalize(Float32Array.from({ length: DIM }, (_, i) => c[i]! + 0.5 * sub[i]! + scale * gauss(r)));
}

/** The embedder of the synthetic corpus (what a 384-dimension model would be to this bench). */
const syntheticEmbedder: Embedder = {
  id: `synthetic-${DIM}`,
  dimension: () => Promise.resolve(DIM),
  embedPassages: (texts) => Promise.resolve(texts.map((t) => vectorOf(t))),
  embedQueries: (texts) => Promise.resolve(texts.map((t) => vectorOf(t, NOISE * 1.2))),
};

const WORDS = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);

/** Paragraph j of unit u: a topic word and words drawn from that topic's vocabulary (~220 characters). */
function paragraph(u: number, j: number): string {
  const r = rng(u * 1_000_003 + j);
  const topic = Math.floor(r() * TOPICS);
  const sub = Math.floor(r() * SUBTOPICS);
  const words = Array.from({ length: 28 }, () => WORDS[(topic * 37 + Math.floor(r() * 60)) % WORDS.length]!);
  return `t${topic} s${sub} ${words.join(" ")} n${u}x${j}.`;
}

function unitText(u: number): string {
  return Array.from({ length: PER_UNIT }, (_, j) => paragraph(u, j)).join("\n\n");
}

async function* units(count: number): AsyncGenerator<Source> {
  const enc = new TextEncoder();
  for (let u = 0; u < count; u++) {
    const bytes = enc.encode(unitText(u));
    yield {
      key: `u${u}.txt`,
      mediaType: "text/plain",
      root: "synthetic",
      size: bytes.byteLength,
      bytes: () => Promise.resolve(bytes),
    };
  }
}

const SPLITTER = { kind: "recursive" as const, chunkSize: 200, overlap: 0 };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function du(dir: string): number {
  return Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
}

const PHASES = ["ingest", "index", "query", "queue"] as const;

export default async function main(args: string[]): Promise<void> {
  const chunks = Number(flag(args, "--chunks", "1000000"));
  const queries = Number(flag(args, "--queries", "200"));
  const ingestChunks = Number(flag(args, "--ingest-chunks", String(Math.min(chunks, 50_000))));
  const kind = flag(args, "--kind", "ivf_pq") as AnnKind;
  const minRows = Number(flag(args, "--min-rows", "100000"));
  const batchChunks = Number(flag(args, "--batch-chunks", "50000"));
  const num = (name: string) => (flag(args, name, "") === "" ? undefined : Number(flag(args, name, "")));
  const tuning = Object.fromEntries(
    (
      [
        ["nprobes", num("--nprobes")],
        ["refineFactor", num("--refine-factor")],
        ["ef", num("--ef")],
        ["sampleRate", num("--sample-rate")],
        ["maxIterations", num("--max-iterations")],
      ] as const
    ).filter(([, v]) => v !== undefined),
  ) as Partial<AnnSettings>;
  // phases run in order and each starts from what the earlier ones left in --dir, so a run that
  // stopped (or a machine that was needed back) resumes with `--phases index,query` and so on;
  // the ingest phase itself resumes: units already committed are skipped by their content hash
  const phases = args.includes("--measure-only") ? ["query"] : flag(args, "--phases", PHASES.join(",")).split(",");
  for (const p of phases)
    if (!(PHASES as readonly string[]).includes(p))
      throw new Error(`--phases: ${p} is not one of ${PHASES.join(", ")}`);
  const dir = flag(args, "--dir", "") || (await mkdtemp(path.join(os.tmpdir(), "infuse-scale-")));
  const pgUrl = flag(args, "--store", "");
  if (pgUrl) return postgresScale(pgUrl, { chunks, queries, batchChunks, phases, dir });
  const base = { bench: "scale", chunks, dim: DIM, kind };
  const figure = (f: Record<string, unknown>) =>
    emit({ ...base, ...f, peak_rss_mb: peakRssMb(), load1: +os.loadavg()[0]!.toFixed(2) });
  emit(cpuFigure("scale"));
  const ann: AnnSettings = { minRows, kind, ...tuning };
  const store = new LanceDbStoreProvider(dir, { ann });
  const colDir = path.join(store.root, "scale");
  let t = performance.now();

  // 1. the collection through the real ingest pipeline, in commits of --batch-chunks chunks; the
  // vector index waits for phase 2, so its build is timed alone (a product ingest builds it in the
  // commit that crosses store.ann.minRows, and retrains it each time the collection doubles)
  if (phases.includes("ingest")) {
    const ingestStore = new LanceDbStoreProvider(dir, { ann: { ...ann, minRows: 0 } });
    const before = (await ingestStore.manifest("scale"))?.chunks ?? 0;
    let lastLog = 0;
    const report = await ingestSources("scale", units(Math.ceil(chunks / PER_UNIT)), {
      dataDir: dir,
      store: ingestStore,
      embedder: syntheticEmbedder,
      embedderSpec: syntheticEmbedder.id,
      splitter: SPLITTER,
      batchSize: 100_000,
      batchChunks,
      onProgress: (e) => {
        if (e.task === "commit" || (e.task === "load" && performance.now() - lastLog > 60_000)) {
          lastLog = performance.now();
          log(
            `  ${e.task} ${e.done} units${e.note ? ` (${e.note})` : ""}, ${Math.round((performance.now() - t) / 1000)} s, rss ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB, load ${os.loadavg()[0]!.toFixed(1)}`,
          );
        }
      },
    });
    const seconds = (performance.now() - t) / 1000;
    figure({
      figure: "ingest_build",
      chunks_before: before,
      chunks_added: report.chunksAdded,
      chunks_stored: report.chunksTotal,
      commits: report.batches,
      seconds: +seconds.toFixed(1),
      chunks_per_s: Math.round(report.chunksAdded / seconds),
      bytes: du(colDir),
    });
  }

  // 2. the vector index, trained on the whole collection (IVF partitions ~ sqrt(rows))
  if (phases.includes("index")) {
    const built = (await store.open("scale")) as LanceCollection;
    const before = du(colDir);
    t = performance.now();
    const manifest = await built.rebuildVectorIndex(ann);
    built.close();
    figure({
      figure: "index",
      chunks_stored: manifest.chunks,
      seconds: +((performance.now() - t) / 1000).toFixed(1),
      index: manifest.vectorIndex ?? null,
      bytes_before: before,
      bytes: du(colDir),
    });
  }
  if (phases.includes("query")) {
    const collection = await store.open("scale");
    const index = collection.manifest.vectorIndex;
    figure({
      figure: "collection",
      chunks_stored: collection.manifest.chunks,
      index: index ?? null,
      bytes: du(colDir),
    });
    // 3. recall@10 of the index against exact search (LanceDB with the index bypassed)
    const db = await (await lance()).connect(path.join(colDir, "lance"));
    const table = await db.openTable("chunks");
    // the committed version (a writer may be adding rows beside this run)
    const committed = JSON.parse(await readFile(path.join(colDir, "collection.json"), "utf8")) as {
      lancedb: { tableVersion: number };
    };
    await table.checkout(committed.lancedb.tableVersion);
    const qtexts = Array.from({ length: queries }, (_, i) => paragraph(10_000_000 + i, 0));
    const reopened = await store.open("scale");
    const dense = createRetriever("dense", reopened, syntheticEmbedder);
    const hybrid = createRetriever("hybrid", reopened, syntheticEmbedder);
    let recall = 0;
    const denseMs: number[] = [];
    const exactMs: number[] = [];
    // a warm-up pass: the first queries read the index and columns from disk
    for (const q of qtexts.slice(0, 10)) {
      await dense.retrieve(q, { topK: 10 });
      await hybrid.retrieve(q, { topK: 10 });
    }
    for (const q of qtexts) {
      const v = (await syntheticEmbedder.embedQueries([q]))[0]!;
      t = performance.now();
      const exact = (await table
        .vectorSearch(Array.from(v))
        .distanceType("cosine")
        .bypassVectorIndex()
        .select(["id"])
        .limit(10)
        .toArray()) as { id: string }[];
      exactMs.push(performance.now() - t);
      t = performance.now();
      const hits = await dense.retrieve(q, { topK: 10 });
      denseMs.push(performance.now() - t);
      const got = new Set(hits.map((h) => h.chunk.id));
      recall += exact.filter((e) => got.has(e.id)).length / Math.max(1, exact.length);
    }
    const hybridMs: number[] = [];
    for (const q of qtexts) {
      t = performance.now();
      await hybrid.retrieve(q, { topK: 10 });
      hybridMs.push(performance.now() - t);
    }
    for (const list of [denseMs, hybridMs, exactMs]) list.sort((a, b) => a - b);
    figure({
      figure: "query",
      queries,
      recall_at_10: +(recall / queries).toFixed(4),
      dense_p50_ms: +percentile(denseMs, 50).toFixed(1),
      dense_p95_ms: +percentile(denseMs, 95).toFixed(1),
      hybrid_p50_ms: +percentile(hybridMs, 50).toFixed(1),
      hybrid_p95_ms: +percentile(hybridMs, 95).toFixed(1),
      // exact kNN over the same table (index bypassed, ids only): what the index saves
      exact_p50_ms: +percentile(exactMs, 50).toFixed(1),
      exact_p95_ms: +percentile(exactMs, 95).toFixed(1),
      search: index?.search ?? "exact",
    });
    table.close();
    db.close();
    reopened.close();
    collection.close();
  }
  if (!phases.includes("queue")) return;

  // 4. ingest through the job queue (files on disk, per-file jobs of 10 files), 1 and 2 workers
  const files = path.join(dir, "files");
  await mkdir(files, { recursive: true });
  const fileCount = Math.ceil(ingestChunks / PER_UNIT);
  for (let u = 0; u < fileCount; u++) await writeFile(path.join(files, `f${u}.md`), unitText(u));
  const names = Array.from({ length: fileCount }, (_, u) => `f${u}.md`);
  for (const workers of [1, 2]) {
    const dataDir = path.join(dir, `queue-${workers}`);
    const config: ResolvedConfig = {
      file: undefined,
      cacheDir: path.join(dir, "cache"),
      dataDir,
      hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
      rag: {},
      store: { provider: "lancedb", ann: { minRows, kind } },
    };
    const queue = await LocalJobQueue.open({ handlers: jobHandlers({ config }), concurrency: workers });
    t = performance.now();
    const jobs = [];
    for (let i = 0; i < names.length; i += 10) {
      jobs.push(
        await queue.submit("ingest", {
          collection: "q",
          root: files,
          files: names.slice(i, i + 10),
          settings: { embedderSpec: `hash-${DIM}`, splitter: SPLITTER },
        }),
      );
    }
    let stored = 0;
    for (const j of jobs) {
      for await (const e of queue.events(j.id)) {
        if (e.type === "status" && e.job.status === "failed") throw new Error(JSON.stringify(e.job.error));
        if (e.type === "status" && e.job.status === "done")
          stored += (e.job.result as { chunksAdded: number }).chunksAdded;
      }
    }
    const seconds = (performance.now() - t) / 1000;
    await queue.close();
    figure({
      figure: "ingest",
      workers,
      files: fileCount,
      chunks_stored: stored,
      seconds: +seconds.toFixed(1),
      chunks_per_s: Math.round(stored / seconds),
      embedder: `hash-${DIM}`,
    });
  }
  figure({ figure: "peak_rss" });
  if (!args.includes("--dir") && !args.includes("--keep")) await rm(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
}

/**
 * `--store postgres://…`: the same corpus in a Postgres + pgvector collection: ingest (the HNSW
 * index deferred), the HNSW build timed alone, then recall@10 against an exact scan (index scans
 * off) and dense/hybrid latency through infuse's retrievers. Phases resume as on LanceDB.
 */
async function postgresScale(
  url: string,
  o: { chunks: number; queries: number; batchChunks: number; phases: string[]; dir: string },
): Promise<void> {
  const base = { bench: "scale", store: "postgres", chunks: o.chunks, dim: DIM, kind: "hnsw" };
  const figure = (f: Record<string, unknown>) =>
    emit({ ...base, ...f, peak_rss_mb: peakRssMb(), load1: +os.loadavg()[0]!.toFixed(2) });
  emit(cpuFigure("scale"));
  const provider = new PostgresStoreProvider(url, { hnswMinRows: Number.MAX_SAFE_INTEGER });
  const admin = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
  await admin.connect();
  const { schema } = provider.target;
  const tables = async () => {
    const r = await admin.query<{ id: string }>(`SELECT id FROM ${schema}.collections WHERE name = 'scale'`);
    return { id: r.rows[0]!.id, ...tablesOf(schema, r.rows[0]!.id) };
  };
  const size = async () => {
    const t = await tables();
    const r = await admin.query<{ n: string }>(
      "SELECT pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS n",
      [t.chunks, t.postings],
    );
    return Number(r.rows[0]!.n);
  };
  let t = performance.now();
  try {
    if (o.phases.includes("ingest")) {
      let lastLog = 0;
      const report = await ingestSources("scale", units(Math.ceil(o.chunks / PER_UNIT)), {
        dataDir: o.dir,
        store: provider,
        embedder: syntheticEmbedder,
        embedderSpec: syntheticEmbedder.id,
        splitter: SPLITTER,
        batchSize: 100_000,
        batchChunks: o.batchChunks,
        onProgress: (e) => {
          if (e.task === "commit" || performance.now() - lastLog > 60_000) {
            lastLog = performance.now();
            log(
              `  ${e.task} ${e.done}${e.note ? ` (${e.note})` : ""}, ${Math.round((performance.now() - t) / 1000)} s`,
            );
          }
        },
      });
      const seconds = (performance.now() - t) / 1000;
      figure({
        figure: "ingest_build",
        chunks_added: report.chunksAdded,
        chunks_stored: report.chunksTotal,
        commits: report.batches,
        seconds: +seconds.toFixed(1),
        chunks_per_s: Math.round(report.chunksAdded / seconds),
        bytes: await size(),
      });
    }
    if (o.phases.includes("index")) {
      const tb = await tables();
      const before = await size();
      await admin.query("SET maintenance_work_mem = '1GB'");
      t = performance.now();
      await ensureHnsw(admin, schema, tb.id, 1, 0);
      figure({
        figure: "index",
        params: { m: 16, ef_construction: 64 },
        seconds: +((performance.now() - t) / 1000).toFixed(1),
        bytes_before: before,
        bytes: await size(),
      });
    }
    if (!o.phases.includes("query")) return;
    const collection = await provider.open("scale");
    const dense = createRetriever("dense", collection, syntheticEmbedder);
    const hybrid = createRetriever("hybrid", collection, syntheticEmbedder);
    const qtexts = Array.from({ length: o.queries }, (_, i) => paragraph(10_000_000 + i, 0));
    const tb = await tables();
    for (const q of qtexts.slice(0, 10)) {
      await dense.retrieve(q, { topK: 10 });
      await hybrid.retrieve(q, { topK: 10 });
    }
    let recall = 0;
    const denseMs: number[] = [];
    const hybridMs: number[] = [];
    const exactMs: number[] = [];
    for (const q of qtexts) {
      const v = (await syntheticEmbedder.embedQueries([q]))[0]!;
      t = performance.now();
      await admin.query("BEGIN");
      await admin.query("SET LOCAL enable_indexscan = off");
      const exact = await admin.query<{ chunk_id: string }>(
        `SELECT chunk_id FROM ${tb.chunks} WHERE rev_removed IS NULL ORDER BY embedding <=> $1::vector LIMIT 10`,
        [`[${Array.from(v).join(",")}]`],
      );
      await admin.query("COMMIT");
      exactMs.push(performance.now() - t);
      t = performance.now();
      const hits = await dense.retrieve(q, { topK: 10 });
      denseMs.push(performance.now() - t);
      const got = new Set(hits.map((h) => h.chunk.id));
      recall += exact.rows.filter((e) => got.has(e.chunk_id)).length / Math.max(1, exact.rows.length);
      t = performance.now();
      await hybrid.retrieve(q, { topK: 10 });
      hybridMs.push(performance.now() - t);
    }
    for (const list of [denseMs, hybridMs, exactMs]) list.sort((a, b) => a - b);
    figure({
      figure: "query",
      queries: o.queries,
      chunks_stored: collection.manifest.chunks,
      recall_at_10: +(recall / o.queries).toFixed(4),
      dense_p50_ms: +percentile(denseMs, 50).toFixed(1),
      dense_p95_ms: +percentile(denseMs, 95).toFixed(1),
      hybrid_p50_ms: +percentile(hybridMs, 50).toFixed(1),
      hybrid_p95_ms: +percentile(hybridMs, 95).toFixed(1),
      exact_p50_ms: +percentile(exactMs, 50).toFixed(1),
      exact_p95_ms: +percentile(exactMs, 95).toFixed(1),
    });
    collection.close();
  } finally {
    await admin.end();
    await provider.close();
  }
}
