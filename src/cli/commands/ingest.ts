// `infuse ingest PATH`: load, split, embed and store a file or folder into a collection through
// the folder source stream, committing in batches and syncing it (changed files updated, deleted
// files removed after a complete walk, the rest untouched). Its flags are IngestSettingsSchema's
// (rag/pipeline/ingest-options.ts): flag text goes through that schema, so a bad value gets the
// error ingestPath() gives for it. Precedence: defaults < config `ingest` < the collection's stored
// splitter, analyzer, embedder and tabular columns < flags; a splitter or analyzer flag that differs
// from the stored one is an error naming both, a tabular one a warning (it replaces the stored one).
import { limitsOf } from "../../core/limits.js";
import { configSection, type ResolvedConfig } from "../../core/config.js";
import type { ProgressEvent } from "../../core/progress.js";
import { ingestPath, type IngestReport } from "../../rag/pipeline/ingest.js";
import {
  INGEST_FLAG_FIELDS,
  IngestConfigSchema,
  ingestSettings,
  type IngestSettings,
} from "../../rag/pipeline/ingest-options.js";
import { DEFAULT_EMBEDDER_SPEC, resolveEmbedder } from "../../rag/pipeline/models.js";
import type { CollectionManifest } from "../../rag/store/index.js";
import { storeProvider } from "../../rag/store/index.js";
import { InfuseError } from "../../core/errors.js";
import type { QueuedIngestReport } from "../../jobs/ingest-jobs.js";
import type { CommandRuntime, RegisterCommand } from "../runtime.js";
import { cliFlags, flagOptions, flagValues } from "../schema-flags.js";
import { collectionName } from "./ask.js";

const FIELD_FLAGS = cliFlags(INGEST_FLAG_FIELDS);

type Layer = Record<string, unknown>;

/** The settings that are groups of settings, merged key by key. */
const GROUPS = new Set(INGEST_FLAG_FIELDS.filter((f) => f.path.length > 1).map((f) => f.path[0]!));

/** Later layers win; inside a group (splitter, fts, tabular), key by key. */
function merge(...layers: Layer[]): Layer {
  const out: Layer = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      out[k] = GROUPS.has(k) && out[k] !== undefined ? { ...(out[k] as Layer), ...(v as Layer) } : v;
    }
  }
  return out;
}

/** What an existing collection keeps from its ingests: its splitter, analyzer, embedder and tabular columns. */
function stored(existing: CollectionManifest | undefined): Layer {
  if (!existing) return {};
  return {
    embedderSpec: existing.embedder.endpoint ?? existing.embedder.spec,
    splitter: existing.splitter,
    fts: existing.fts,
    ...(existing.tabular ? { tabular: existing.tabular } : {}),
  };
}

/** A flag given with another value than the collection stored for it. */
interface Differing {
  flag: string;
  path: string[];
  given: unknown;
  stored: unknown;
}

/** The splitter, analyzer and tabular flags whose value differs from the collection's stored one. */
function differingFlags(given: Layer, existing: CollectionManifest | undefined): Differing[] {
  if (!existing) return [];
  const storedLayer = stored(existing);
  return FIELD_FLAGS.flatMap(({ path, meta }) => {
    const [group, key] = path;
    if (key === undefined || !["splitter", "fts", "tabular"].includes(group!)) return [];
    const value = (given[group!] as Layer | undefined)?.[key];
    const before = (storedLayer[group!] as Layer | undefined)?.[key];
    return value === undefined || value === before ? [] : [{ flag: meta.flag, path, given: value, stored: before }];
  });
}

/**
 * Flags that contradict the collection: a splitter or analyzer flag is an error (chunks and the
 * index were built with the stored one); a tabular column is a change the user asked for, so
 * it is told and kept (rows are read again with it, and it is stored for the next ingests).
 */
function checkAgainstStored(rt: CommandRuntime, flags: Layer, existing: CollectionManifest | undefined): void {
  for (const d of differingFlags(flags, existing)) {
    const what = (v: unknown) => (v === undefined ? "the default" : JSON.stringify(v));
    if (d.path[0] === "tabular") {
      rt.out.warn(
        `${d.flag} ${String(d.given)} replaces ${what(d.stored)} that collection "${existing!.name}" was ingested with: its CSV/JSON files are read again with it, and later ingests use it`,
      );
      continue;
    }
    throw new InfuseError(
      "rag.setting_differs",
      `${d.flag} ${String(d.given)} differs from collection "${existing!.name}"'s stored ${d.path.join(".")} (${what(d.stored)})`,
      {
        kind: "usage",
        hint: `leave ${d.flag} out to use the stored setting, or ingest into a new collection (or delete "${existing!.name}" first)`,
        details: { collection: existing!.name, setting: d.path.join("."), stored: d.stored, given: d.given },
      },
    );
  }
}

/** The run's settings: defaults < config `ingest` (and rag.embedder) < the collection's < flags, checked. */
export function resolveIngestFlags(
  flags: Record<string, unknown>,
  config: ResolvedConfig,
  existing: CollectionManifest | undefined,
): IngestSettings {
  const fromConfig = (configSection(config, "ingest", IngestConfigSchema) ?? {}) as Layer;
  const embedder = { embedderSpec: config.rag.embedder ?? DEFAULT_EMBEDDER_SPEC };
  return ingestSettings(
    merge(embedder, fromConfig, stored(existing), flagValues(flags, FIELD_FLAGS)) as IngestSettings,
  );
}

export const registerIngest: RegisterCommand = (program, run) => {
  const cmd = program
    .command("ingest")
    .argument("<path>", "a file or a folder (walked recursively)")
    .description(
      "load, split, embed and index documents into a collection (PDF, DOCX, HTML, Markdown, TXT, CSV, JSON, JSONL; images and scanned PDF pages through OCR)",
    )
    .option("--collection <name>", 'collection to ingest into (default: rag.collection or "default")')
    .option(
      "--queue <url>",
      "queue one job per file on this Redis server (redis://host:port) for `infuse worker`s, and follow them",
    );
  for (const o of flagOptions(FIELD_FLAGS)) cmd.addOption(o);
  cmd
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse ingest ./docs --collection handbook\n" +
        "  infuse ingest ./docs --collection handbook --include '**/*.md' --exclude 'drafts/**'\n" +
        "  infuse ingest menu.csv --collection menu                 # each row: every column as `name: value`\n" +
        "  infuse ingest faq.csv --collection faq --text-column answer\n" +
        "  infuse ingest ./archive --collection archive --batch-size 200   # commit every 200 files\n" +
        "  infuse ingest ./scans --collection scans --ocr-lang eng+vie      # OCR in English and Vietnamese\n" +
        "  infuse ingest ./docs --collection handbook --splitter token --chunk-size 256 --embedder hf:Xenova/bge-small-en-v1.5\n" +
        "  infuse ingest ./docs --collection handbook --queue redis://10.0.0.5:6379   # per-file jobs for workers\n" +
        "\nRe-running updates changed files, removes deleted ones and leaves the rest untouched.\n" +
        "Files are loaded by type from their extension (a PDF or DOCX named .txt, or with an unknown\n" +
        "extension, is recognised by its bytes); every file that gives no text is listed as skipped\n" +
        "with why (unsupported type, empty, OCR not installed or off). See docs/ocr.md for OCR.\n" +
        "Ctrl-C stops cleanly: committed batches stay, nothing half-written is visible, and running\n" +
        "the same command again resumes (committed files are skipped). Deleted files are removed\n" +
        "only by a run that walked the whole folder.\n" +
        'Defaults for these flags can live in infuse.config.json as an "ingest" section\n' +
        '({"ingest": {"splitter": {"chunkSize": 500}, "batchSize": 200}}); an existing collection keeps\n' +
        "the splitter, analyzer and embedder it was built with, and the --text-column/--id-column of its\n" +
        "last ingest. CSV rows are indexed as `column: value` lines of every column unless --text-column\n" +
        "names one.",
    )
    .action(
      run(async (rt, target: string, flags: { collection?: string; queue?: string } & Record<string, unknown>) => {
        const config = await rt.config();
        const collection = collectionName(flags.collection, config);
        const store = storeProvider(config);
        // a collection built against a remote server reconnects to it (its stored endpoint keeps the base URL)
        const existing = await store.manifest(collection);
        checkAgainstStored(rt, flagValues(flags, FIELD_FLAGS), existing);
        const settings = resolveIngestFlags(flags, config, existing);
        if (flags.queue !== undefined) {
          const report = await ingestQueued(rt, flags.queue, collection, target, settings);
          rt.out.result(report, (r: QueuedIngestReport) => `${renderIngest(r)}\n${renderJobs(r)}`);
          return;
        }
        const embedder = await resolveEmbedder(settings.embedderSpec ?? DEFAULT_EMBEDDER_SPEC, {
          config,
          signal: rt.signal,
        });
        const bars = rt.out.progress();
        // a folder is walked lazily, so files and commits have no total: the bar counts them
        const progress = (e: ProgressEvent) => bars(e.total === undefined ? { ...e, total: e.done } : e);
        let report: IngestReport;
        try {
          report = await ingestPath(collection, target, {
            ...settings,
            dataDir: config.dataDir,
            store,
            embedder,
            limits: limitsOf(config),
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

/** `--queue`: per-file jobs on the Redis queue, followed with one progress bar over the files. */
async function ingestQueued(
  rt: CommandRuntime,
  url: string,
  collection: string,
  target: string,
  settings: IngestSettings,
): Promise<QueuedIngestReport> {
  const { RedisJobQueue } = await import("../../jobs/redis-queue.js");
  const { jobHandlers } = await import("../../jobs/handlers.js");
  const { ingestThroughQueue } = await import("../../jobs/ingest-jobs.js");
  const { redisUrl } = await import("./worker.js");
  const queue = await RedisJobQueue.open({ url: redisUrl(url), handlers: jobHandlers({ config: await rt.config() }) });
  const bars = rt.out.progress();
  try {
    return await ingestThroughQueue(queue, collection, target, settings, { signal: rt.signal, onProgress: bars });
  } finally {
    bars.done();
    await queue.close();
  }
}

function renderJobs(r: QueuedIngestReport): string {
  const j = r.jobs;
  return `jobs: ${j.submitted} queued, ${j.done} done, ${j.failed} failed, ${j.cancelled} cancelled, ${j.retried} retried after a worker stopped`;
}

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
  if (r.skipped.length > 0) {
    lines.push(`skipped, no text (${r.skipped.length}):`, ...r.skipped.map((s) => `  ${s.source}: ${s.reason}`));
  }
  // each distinct fix once (how to install tesseract), not once per file or page
  const hints = new Set([...r.warnings, ...r.skipped].flatMap((s) => (s.hint ? [s.hint] : [])));
  for (const h of hints) lines.push(`hint: ${h}`);
  if (r.duplicates.length > 0)
    lines.push(
      `duplicates, not indexed again (${r.duplicates.length}):`,
      ...r.duplicates.map((d) => `  ${d.source}: same content as ${d.of}`),
    );
  if (r.failed.length > 0)
    lines.push(`not ingested (${r.failed.length}):`, ...r.failed.map((f) => `  ${f.source}: ${f.reason}`));
  return lines.join("\n");
}
