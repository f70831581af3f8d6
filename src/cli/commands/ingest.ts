// `infuse ingest PATH`: load, split, embed and store a file or folder into a collection through
// the folder source stream, committing in batches and syncing it (changed files updated, deleted
// files removed after a complete walk, the rest untouched).
import { Option } from "commander";
import type { ProgressEvent } from "../../core/progress.js";
import { resolveEmbedder, DEFAULT_EMBEDDER_SPEC } from "../../rag/pipeline/models.js";
import { DEFAULT_BATCH_CHUNKS, DEFAULT_BATCH_UNITS, ingestPath, type IngestReport } from "../../rag/pipeline/ingest.js";
import { SPLITTER_KINDS, type SplitterKind } from "../../rag/split/index.js";
import { storeProvider } from "../../rag/store/index.js";
import type { RegisterCommand } from "../runtime.js";
import { collectionName, positiveInt } from "./ask.js";

interface IngestFlags {
  collection?: string;
  embedder?: string;
  splitter?: SplitterKind;
  chunkSize?: number;
  overlap?: number;
  include?: string[];
  exclude?: string[];
  textColumn?: string;
  idColumn?: string;
  bm25Language?: string;
  stemming?: boolean;
  stopWords?: boolean;
  batchSize?: number;
  batchChunks?: number;
}

export const registerIngest: RegisterCommand = (program, run) => {
  program
    .command("ingest")
    .argument("<path>", "a file or a folder (walked recursively)")
    .description(
      "load, split, embed and index documents into a collection (PDF, DOCX, HTML, Markdown, TXT, CSV, JSON, JSONL)",
    )
    .option("--collection <name>", 'collection to ingest into (default: rag.collection or "default")')
    .option(
      "--embedder <spec>",
      'embedding model: "hash" (built-in, lexical), a model path or hf: reference, openai:MODEL, ollama:MODEL',
    )
    .addOption(new Option("--splitter <kind>", "how documents are split").choices(SPLITTER_KINDS))
    .option("--chunk-size <n>", "largest chunk: characters, or tokens with --splitter token", positiveInt)
    .option("--overlap <n>", "overlap between neighbouring chunks (same unit)", (v) => Number.parseInt(v, 10))
    .option("--include <glob...>", "only files matching these globs (relative to PATH)")
    .option("--exclude <glob...>", "skip files matching these globs")
    .option("--text-column <name>", "CSV column / JSON field holding the text (default: text, content, body)")
    .option("--id-column <name>", "CSV column / JSON field naming each record (kept as doc_id)")
    .option("--bm25-language <language>", "full-text analyzer language of a new collection (default English)")
    .option("--no-stemming", "new collection: index words unstemmed")
    .option("--no-stop-words", "new collection: keep stop words in the full-text index")
    .option(
      "--batch-size <n>",
      `files per commit (default ${DEFAULT_BATCH_UNITS}): an interrupted ingest keeps every committed batch`,
      positiveInt,
    )
    .option(
      "--batch-chunks <n>",
      `chunks per commit (default ${DEFAULT_BATCH_CHUNKS}); a batch commits at whichever limit comes first`,
      positiveInt,
    )
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse ingest ./docs --collection handbook\n" +
        "  infuse ingest ./docs --collection handbook --include '**/*.md' --exclude 'drafts/**'\n" +
        "  infuse ingest faq.csv --collection faq --text-column answer\n" +
        "  infuse ingest ./archive --collection archive --batch-size 200   # commit every 200 files\n" +
        "  infuse ingest ./docs --collection handbook --splitter token --chunk-size 256 --embedder hf:Xenova/bge-small-en-v1.5\n" +
        "\nRe-running updates changed files, removes deleted ones and leaves the rest untouched.\n" +
        "Files are loaded by type from their extension (a PDF or DOCX named .txt, or with an unknown\n" +
        "extension, is recognised by its bytes); types without a loader are listed as skipped.\n" +
        "Ctrl-C stops cleanly: committed batches stay, nothing half-written is visible, and running\n" +
        "the same command again resumes (committed files are skipped). Deleted files are removed\n" +
        "only by a run that walked the whole folder.",
    )
    .action(
      run(async (rt, target: string, flags: IngestFlags) => {
        const config = await rt.config();
        const collection = collectionName(flags.collection, config);
        const store = storeProvider(config);
        const existing = await store.manifest(collection);
        // a collection built against a remote server reconnects to it (its stored endpoint keeps the base URL)
        const spec =
          flags.embedder ??
          existing?.embedder.endpoint ??
          existing?.embedder.spec ??
          config.rag.embedder ??
          DEFAULT_EMBEDDER_SPEC;
        const embedder = await resolveEmbedder(spec, { config, signal: rt.signal });
        const splitter = {
          ...(existing?.splitter ?? {}),
          ...(flags.splitter ? { kind: flags.splitter } : {}),
          ...(flags.chunkSize !== undefined ? { chunkSize: flags.chunkSize } : {}),
          ...(flags.overlap !== undefined ? { overlap: flags.overlap } : {}),
        };
        const bars = rt.out.progress();
        // a folder is walked lazily, so files and commits have no total: the bar counts them
        const progress = (e: ProgressEvent) => bars(e.total === undefined ? { ...e, total: e.done } : e);
        let report: IngestReport;
        try {
          report = await ingestPath(collection, target, {
            dataDir: config.dataDir,
            store,
            embedder,
            embedderSpec: spec,
            splitter,
            fts: {
              ...(flags.bm25Language ? { language: flags.bm25Language } : {}),
              ...(flags.stemming === false ? { stem: false } : {}),
              ...(flags.stopWords === false ? { removeStopWords: false } : {}),
            },
            ...(flags.include ? { include: flags.include } : {}),
            ...(flags.exclude ? { exclude: flags.exclude } : {}),
            ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
            ...(flags.batchChunks !== undefined ? { batchChunks: flags.batchChunks } : {}),
            tabular: {
              ...(flags.textColumn ? { textColumn: flags.textColumn } : {}),
              ...(flags.idColumn ? { idColumn: flags.idColumn } : {}),
            },
            signal: rt.signal,
            onProgress: progress,
          });
        } finally {
          bars.done();
          await embedder.dispose?.();
        }
        rt.out.result(report, renderIngest);
      }),
    );
};

export function renderIngest(r: IngestReport): string {
  const lines = [
    `collection "${r.collection}": ${r.added.length} added, ${r.updated.length} updated, ${r.removed.length} removed, ${r.unchanged} unchanged`,
    `chunks: ${r.chunksAdded} written (${r.embedded} embedded, ${r.cached} reused by content hash), ${r.chunksTotal} in all; ${r.batches} commit${r.batches === 1 ? "" : "s"}, ${r.seconds.toFixed(1)} s`,
  ];
  if (r.warnings.length > 0) {
    lines.push(
      "warnings:",
      ...r.warnings.map((w) => `  ${w.source}${w.page !== undefined ? ` p.${w.page}` : ""}: ${w.reason}`),
    );
  }
  if (r.skipped.length > 0)
    lines.push(`skipped, no loader (${r.skipped.length}):`, ...r.skipped.map((s) => `  ${s.source}: ${s.reason}`));
  if (r.failed.length > 0)
    lines.push(`not ingested (${r.failed.length}):`, ...r.failed.map((f) => `  ${f.source}: ${f.reason}`));
  return lines.join("\n");
}
