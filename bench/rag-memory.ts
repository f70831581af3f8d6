// `npm run bench -- rag-memory [--pages N] [--files N] [--batch-size N] [--batch-chunks N]` (also run by `bench -- rag`):
// peak RSS of ingesting a generated 500-page PDF and a folder of 50,000 small files, each in its own
// child process (compiled JavaScript, hashing embedder), next to a child that ingests one small file
// and, as the reference, the same folder committed at once (how ingest worked before batches).
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { HashingEmbedder } from "../src/rag/embed/hashing.js";
import { DEFAULT_BATCH_CHUNKS, DEFAULT_BATCH_UNITS, ingestPath } from "../src/rag/pipeline/ingest.js";
import { compiledBenchRunner, cpuFigure, emit, log, peakRssMb } from "./emit.js";

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

const WORDS = "tide harbour berth buoy chart current depth ebb flood pilot quay swell vessel wharf anchor".split(" ");

/** A PDF of `pages` pages, 40 lines of prose each (pdf-lib). */
async function writePdf(file: string, pages: number): Promise<void> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (let p = 0; p < pages; p++) {
    const page = pdf.addPage([595, 842]);
    for (let l = 0; l < 40; l++) {
      const words = Array.from({ length: 12 }, (_, w) => WORDS[(p * 7 + l * 3 + w) % WORDS.length]);
      page.drawText(`${p + 1}.${l + 1} ${words.join(" ")}.`, { x: 40, y: 800 - l * 19, size: 10, font });
    }
  }
  await writeFile(file, await pdf.save());
}

/** `files` small Markdown notes in folders of 1,000. */
async function writeFolder(dir: string, files: number): Promise<void> {
  for (let i = 0; i < files; i++) {
    const sub = path.join(dir, `part-${String(Math.floor(i / 1000)).padStart(3, "0")}`);
    if (i % 1000 === 0) await mkdir(sub, { recursive: true });
    const w = (k: number) => WORDS[(i + k) % WORDS.length];
    await writeFile(
      path.join(sub, `note-${i}.md`),
      `# Note ${i}\n\nThe ${w(1)} by the ${w(2)} is ${i % 97} metres from the ${w(3)}.\n`,
    );
  }
}

interface ChildResult {
  peak_rss_mb: number;
  seconds: number;
  units: number;
  chunks: number;
  batches: number;
}

/** In the child: ingest `target` into a fresh data folder and report peak RSS. */
async function child(target: string, dataDir: string, batch: Batch): Promise<ChildResult> {
  const report = await ingestPath("bench", target, { dataDir, embedder: new HashingEmbedder(), ...batch });
  return {
    peak_rss_mb: peakRssMb(),
    seconds: report.seconds,
    units: report.added.length,
    chunks: report.chunksTotal,
    batches: report.batches,
  };
}

interface Batch {
  batchSize: number;
  batchChunks: number;
}

function batchFlags(args: string[]): Batch {
  return {
    batchSize: Number(flag(args, "--batch-size", String(DEFAULT_BATCH_UNITS))),
    batchChunks: Number(flag(args, "--batch-chunks", String(DEFAULT_BATCH_CHUNKS))),
  };
}

function runChild(runJs: string, target: string, dataDir: string, batch: Batch): ChildResult {
  const pass = ["--batch-size", String(batch.batchSize), "--batch-chunks", String(batch.batchChunks)];
  const r = spawnSync(process.execPath, [runJs, "rag-memory", "--child", target, "--data", dataDir, ...pass], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) throw new Error(`child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as ChildResult;
}

export default async function ragMemory(args: string[]): Promise<void> {
  const target = flag(args, "--child", "");
  if (target) {
    process.stdout.write(JSON.stringify(await child(target, flag(args, "--data", ""), batchFlags(args))) + "\n");
    return;
  }
  emit(cpuFigure("rag"));
  await memoryFigures(args);
}

/** The peak-RSS figures (without the CPU line). */
export async function memoryFigures(args: string[]): Promise<void> {
  const batch = batchFlags(args);
  const pages = Number(flag(args, "--pages", "500"));
  const files = Number(flag(args, "--files", "50000"));
  const runJs = compiledBenchRunner();
  const work = await mkdtemp(path.join(os.tmpdir(), "infuse-bench-ragmem-"));
  try {
    const one = path.join(work, "one");
    await mkdir(one);
    await writeFile(path.join(one, "note.md"), "# One note\n\nA single small file.\n");
    log(`writing a ${pages}-page PDF and ${files} small files under ${work} …`);
    await writePdf(path.join(work, "long.pdf"), pages);
    await writeFolder(path.join(work, "many"), files);
    const common = { bench: "rag", embedder: "hash-512" };
    const cases = [
      { figure: "ingest_one_file_peak_rss_mb", target: one, what: { files: 1 } },
      { figure: "ingest_pdf_peak_rss_mb", target: path.join(work, "long.pdf"), what: { pages } },
      { figure: "ingest_folder_peak_rss_mb", target: path.join(work, "many"), what: { files } },
    ];
    // the reference: the whole folder in one commit, as ingest worked before batches
    const oneCommit = { batchSize: files + 1, batchChunks: Number.MAX_SAFE_INTEGER };
    cases.push({ figure: "ingest_folder_one_commit_peak_rss_mb", target: path.join(work, "many"), what: { files } });
    for (const c of cases) {
      log(`${c.figure}: ingesting ${c.target} in a child process …`);
      const b = c.figure.includes("one_commit") ? oneCommit : batch;
      const r = runChild(runJs, c.target, path.join(work, `data-${c.figure}`), b);
      emit({
        ...common,
        batch_size: b.batchSize,
        batch_chunks: b.batchChunks,
        figure: c.figure,
        value: r.peak_rss_mb,
        unit: "MiB",
        ...c.what,
        units: r.units,
        chunks: r.chunks,
        commits: r.batches,
        seconds: +r.seconds.toFixed(2),
        units_per_s: +(r.units / r.seconds).toFixed(1),
      });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
