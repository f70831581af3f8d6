// Ingest: a stream of sources → loader by media type → chunks → vectors → commits in batches.
// Units whose content hash is already committed are skipped, so an interrupted run resumes where
// it stopped; units a complete stream no longer lists are removed, and only then. An abort or
// failure keeps every batch already committed and never leaves a half-written one. The settings
// are checked by IngestSettingsSchema (ingest-options.ts) before anything is opened. Every unit
// that gives no text is listed as skipped with why (unsupported type, empty, OCR not installed or
// off, no text found); a unit whose scanned pages waited for OCR is loaded again by the next run.
import { createHash } from "node:crypto";
import { isInfuseError, throwIfAborted } from "../../core/errors.js";
import type { Limits } from "../../core/limits.js";
import { throttledProgress, type TaskOptions } from "../../core/progress.js";
import { loaderFor, loadItems, type LoadWarning, type SkipCode } from "../load/index.js";
import { OcrEngine } from "../load/ocr/index.js";
import {
  folderSource,
  recordsSource,
  type IngestRecord,
  type RecordsSourceOptions,
  type Source,
  type SourceStream,
} from "../source/index.js";
import { checkUnitSize } from "../source/size.js";
import { Splitter, splitterSettings } from "../split/index.js";
import { LanceDbStoreProvider, type CollectionStore, type StoreProvider } from "../store/index.js";
import type { Chunk, Embedder } from "../types.js";
import { DuplicateIndex } from "./duplicates.js";
import { BatchWriter, type BatchTotals, type PreparedUnit } from "./ingest-batch.js";
import { ingestSettings, type IngestSettings } from "./ingest-options.js";

export { DEFAULT_BATCH_CHUNKS, DEFAULT_BATCH_UNITS } from "./ingest-batch.js";
export type { IngestRecord } from "../source/index.js";

/**
 * The settings (splitter, fts, tabular, batch sizes, embedderSpec: IngestSettingsSchema's fields,
 * checked by it) and the runtime parts of an ingest.
 */
export interface IngestOptions extends TaskOptions, Omit<IngestSettings, "include" | "exclude"> {
  /** The data folder: where the default store (LanceDB in `<dataDir>/collections`) lives. */
  dataDir: string;
  /** The store provider (from the config's `store` section); default LanceDB in the data folder. */
  store?: StoreProvider;
  embedder: Embedder;
  /** Resource limits (`limitsOf(config)`): file size, decompressed size, line length; default DEFAULT_LIMITS. */
  limits?: Limits;
}

/** IngestOptions and the folder's include/exclude globs. */
export type IngestPathOptions = IngestOptions & Pick<IngestSettings, "include" | "exclude">;

export interface IngestRecordsOptions extends IngestOptions, Omit<RecordsSourceOptions, "complete"> {
  /** Remove records of this source that are not in `records`; default false (add/update only). */
  removeMissing?: boolean;
}

export interface IngestReport extends BatchTotals {
  collection: string;
  unchanged: number;
  failed: { source: string; reason: string }[];
  /** Units that gave no text, with the type found and why (a previously committed version is removed). */
  skipped: SkippedUnit[];
  /**
   * Units not indexed because another unit of the collection (or of this run) has the same
   * content: `of` is that unit's key. The same file reached from two ingest roots is stored once.
   */
  duplicates: { source: string; of: string }[];
  warnings: LoadWarning[];
  seconds: number;
}

export interface SkippedUnit {
  source: string;
  mediaType: string;
  code: SkipCode;
  reason: string;
  /** How to get its text (install tesseract, turn OCR on). */
  hint?: string;
}

const DEFAULT_ROOT = "sources";

/** Files larger than this with no loader for their type or extension are not read to sniff their bytes. */
const SNIFF_MAX_BYTES = 16 * 1024 * 1024;

/** Media types whose text may come from OCR: their units' hash includes the OCR settings. */
const usesOcr = (mediaType: string) => mediaType === "application/pdf" || mediaType.startsWith("image/");

/** What the ingest settings change in a unit's text: its hash covers them. */
interface UnitKeys {
  options: string;
  ocr: OcrEngine;
}

async function open(
  provider: StoreProvider,
  collection: string,
  embedder: Embedder,
  settings: IngestSettings,
): Promise<{ store: CollectionStore; splitter: Splitter }> {
  const split = splitterSettings(settings.splitter);
  const tokenizer = split.kind === "token" ? await embedder.tokenizer?.() : undefined;
  const splitter = new Splitter(split, tokenizer);
  const dimension = await embedder.dimension();
  const store = await provider.openOrCreate(collection, {
    embedder: { id: embedder.id, spec: settings.embedderSpec ?? embedder.id, dimension },
    splitter: split,
    ...(settings.fts ? { fts: settings.fts } : {}),
    ...(settings.tabular ? { tabular: settings.tabular } : {}),
  });
  return { store, splitter };
}

/**
 * Ingests a stream of sources into a collection, committing every `batchSize` units or
 * `batchChunks` chunks. Throws `cancelled` on abort, with the batches before it committed, and
 * `rag.bad_ingest_option` for a bad setting, before it opens anything.
 */
export async function ingestSources(
  collection: string,
  sources: SourceStream | AsyncIterable<Source> | Iterable<Source>,
  options: IngestOptions,
): Promise<IngestReport> {
  const started = performance.now();
  const given = ingestSettings(options);
  const ocr = new OcrEngine(given.ocr);
  // languages asked for are checked before anything is opened (rag.ocr_language_missing)
  if (ocr.mode !== "off" && given.ocr?.languages !== undefined) await ocr.ready(options.signal);
  const provider = options.store ?? new LanceDbStoreProvider(options.dataDir);
  // the tabular columns a collection was built with stay its own until an ingest names others
  const storedTabular = given.tabular === undefined ? (await provider.manifest(collection))?.tabular : undefined;
  const settings = storedTabular ? { ...given, tabular: storedTabular } : given;
  // several ingests may write one collection at once (other processes, other machines): loading,
  // splitting and embedding run outside the writer lock, and each batch takes it only for its
  // commit, which lands on the latest revision with units keyed by content hash (nothing lost,
  // nothing stored twice; see CommitOptions.rebase)
  let store: CollectionStore | undefined;
  try {
    const opened = await open(provider, collection, options.embedder, settings);
    store = opened.store;
    const splitter = opened.splitter;
    const writer = await BatchWriter.open(store, { ...options, rebase: true });
    const progress = throttledProgress(options.onProgress);
    const report = { unchanged: 0, failed: [], skipped: [], warnings: [], duplicates: [] } as Pick<
      IngestReport,
      "unchanged" | "failed" | "skipped" | "warnings" | "duplicates"
    >;
    const seen = new Set<string>();
    const keys: UnitKeys = { options: JSON.stringify(settings.tabular ?? {}), ocr };
    // units skipped now whose earlier version is committed: removed with the last commit
    const stale: string[] = [];
    // a folder's stream names the root it syncs once its walk has started: read it when needed
    const syncRootNow = () => (sources as SourceStream).syncRoot;
    const duplicates = new DuplicateIndex(store.manifest.units, syncRootNow, seen);
    // units whose twin a sync may still remove, decided when the stream has ended
    const later: { unit: PreparedUnit; name: string }[] = [];
    const dropped: string[] = [];
    const before = store.manifest.units;
    const keep = async (unit: PreparedUnit, name: string, final: boolean): Promise<void> => {
      const verdict = duplicates.check(unit.key, unit.root, unit.hash, final);
      if (verdict === "later") return void later.push({ unit, name });
      if (verdict !== "new") {
        report.duplicates.push({ source: name, of: verdict.duplicateOf });
        // a unit whose new content duplicates another loses its old chunks
        if (before[unit.key]) dropped.push(unit.key);
        return;
      }
      duplicates.stored(unit.key, unit.hash);
      await writer.add(unit);
    };
    for await (const source of sources) {
      throwIfAborted(options.signal, "ingest");
      progress({ task: "load", done: seen.size, unit: "files", note: source.key });
      const name = source.name ?? source.key;
      if (seen.has(source.key)) {
        report.failed.push({
          source: name,
          reason: `key "${source.key}" came twice in one ingest; the first was kept`,
        });
        continue;
      }
      seen.add(source.key);
      let unit: PreparedUnit | "unchanged" | undefined;
      try {
        unit = await prepare(source, store, splitter, keys, { ...options, ...settings }, report);
        if (unit === undefined && store.manifest.units[source.key]) stale.push(source.key);
      } catch (e) {
        if (isInfuseError(e) && (e.kind === "cancelled" || e.code === "rag.ocr_language_missing")) throw e;
        const reason = isInfuseError(e) ? e.message.replace(`${name}: `, "") : String((e as Error).message ?? e);
        report.failed.push({ source: name, reason });
      }
      if (unit === "unchanged") report.unchanged++;
      else if (unit) await keep(unit, name, false);
    }
    for (const { unit, name } of later) await keep(unit, name, true);
    progress({ task: "load", done: seen.size, total: seen.size, unit: "files" });
    // the stream ended without error: only now may units it no longer lists be removed
    const syncRoot = syncRootNow();
    const removed = [
      ...dropped,
      ...(syncRoot === undefined
        ? []
        : Object.entries(store.manifest.units)
            .filter(([key, u]) => u.root === syncRoot && !seen.has(key))
            .map(([key]) => key)),
    ];
    await writer.flush([...removed, ...stale], true);
    return {
      collection: store.manifest.name,
      ...writer.totals,
      ...report,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    store?.close();
  }
}

/** Reads, hashes, loads and splits one source; "unchanged" when its committed hash matches. */
async function prepare(
  source: Source,
  store: CollectionStore,
  splitter: Splitter,
  keys: UnitKeys,
  options: IngestOptions,
  report: Pick<IngestReport, "skipped" | "warnings">,
): Promise<PreparedUnit | "unchanged" | undefined> {
  const name = source.name ?? source.key;
  const root = source.root ?? DEFAULT_ROOT;
  const metadataKey = source.metadata && Object.keys(source.metadata).length > 0 ? JSON.stringify(source.metadata) : "";
  const known = store.manifest.units[source.key];
  const same = (hash: string) => known !== undefined && known.hash === hash && known.root === root;
  const optionsKey = (mediaType: string) => (usesOcr(mediaType) ? keys.options + keys.ocr.key : keys.options);
  // the loader by declared type or extension, before the bytes are read and sniffed
  const early = loaderFor(source.mediaType, name);
  // a source's own content hash lets an unchanged unit be skipped without reading it
  if (
    source.contentHash !== undefined &&
    same(unitHash(`content:${source.contentHash}`, optionsKey(early.mediaType), metadataKey))
  )
    return "unchanged";
  // a unit over limits.maxFileBytes is refused before it is read (when its size is known) and after
  if (source.size !== undefined) checkUnitSize(source.size, name, options.limits);
  // a large file of a type no loader reads (a video beside the documents) is not read just to sniff it
  if (!early.loader && source.size !== undefined && source.size > SNIFF_MAX_BYTES) {
    report.skipped.push(unsupported(name, early.mediaType, early.reason));
    return undefined;
  }
  const bytes = await source.bytes();
  checkUnitSize(bytes.byteLength, name, options.limits);
  const choice = loaderFor(source.mediaType, name, bytes);
  const content = source.contentHash !== undefined ? `content:${source.contentHash}` : bytes;
  const hash = unitHash(content, optionsKey(choice.mediaType), metadataKey);
  if (same(hash)) return "unchanged";
  if (bytes.byteLength === 0) {
    report.skipped.push({ source: name, mediaType: choice.mediaType, code: "empty", reason: "empty file (0 bytes)" });
    return undefined;
  }
  if (!choice.loader) {
    report.skipped.push(unsupported(name, choice.mediaType, choice.reason));
    return undefined;
  }
  const context = {
    source: name,
    tabular: options.tabular ?? {},
    ...(choice.charset ? { charset: choice.charset } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ocr: keys.ocr,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const chunks: Chunk[] = [];
  const warnings: LoadWarning[] = [];
  for await (const item of loadItems(choice.loader, bytes, context)) {
    if ("warning" in item) warnings.push(item.warning);
    else {
      const doc = item.document;
      // one by one: a long document has more chunks than a spread (push(...)) takes
      for (const chunk of splitter.split(
        source.metadata ? { ...doc, metadata: { ...doc.metadata, ...source.metadata } } : doc,
      ))
        chunks.push(chunk);
    }
  }
  if (chunks.length === 0) {
    report.skipped.push(skippedFor(name, choice.mediaType, warnings));
    return undefined;
  }
  for (const w of warnings) report.warnings.push(w);
  // pages that wait for tesseract: the unit's hash never matches the file's, so the next run loads
  // it again; still without OCR it gives the same unit, which is unchanged (its warnings stand)
  const pending = warnings.some((w) => w.code === "ocr_unavailable");
  const unitKeyHash = pending ? unitHash(hash, "ocr-pending", "") : hash;
  if (same(unitKeyHash)) return "unchanged";
  return { key: source.key, root, hash: unitKeyHash, chunks };
}

function unsupported(source: string, mediaType: string, reason: string): SkippedUnit {
  const hint =
    "convert it to a supported type (PDF, DOCX, HTML, Markdown, text, CSV, JSON, PNG/JPEG/TIFF), or --exclude it";
  return { source, mediaType, code: "unsupported_type", reason, hint };
}

/** A unit that loaded without text, listed by its loader's warnings (the likeliest fix first). */
function skippedFor(source: string, mediaType: string, warnings: LoadWarning[]): SkippedUnit {
  const order: SkipCode[] = ["ocr_unavailable", "ocr_off", "unsupported_type", "no_text", "empty"];
  const coded = warnings.filter((w) => w.code !== undefined);
  const code = order.find((c) => coded.some((w) => w.code === c)) ?? "no_text";
  const first = coded.find((w) => w.code === code);
  // one line for a file whose pages share a reason: "p.1–3: no text layer …"
  const reasons = new Map<string, number[]>();
  for (const w of warnings) reasons.set(w.reason, [...(reasons.get(w.reason) ?? []), ...(w.page ? [w.page] : [])]);
  const reason =
    reasons.size === 0
      ? "no text found"
      : [...reasons]
          .map(([r, pages]) =>
            pages.length > 0 ? `${pages.length === 1 ? "page" : "pages"} ${pageList(pages)}: ${r}` : r,
          )
          .join("; ");
  return { source, mediaType, code, reason, ...(first?.hint ? { hint: first.hint } : {}) };
}

/** "1-3, 5" */
function pageList(pages: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < pages.length; i++) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j]! + 1) j++;
    out.push(j > i ? `${pages[i]}-${pages[j]}` : String(pages[i]));
    i = j;
  }
  return out.join(", ");
}

function unitHash(content: string | Uint8Array, optionsKey: string, metadataKey: string): string {
  return createHash("sha256").update(content).update(optionsKey).update(metadataKey).digest("hex");
}

/** Ingests a file or a folder (recursively) into a collection, syncing it with the folder. */
export async function ingestPath(
  collection: string,
  target: string,
  options: IngestPathOptions,
): Promise<IngestReport> {
  ingestSettings(options);
  return ingestSources(
    collection,
    folderSource(target, {
      ...(options.include ? { include: options.include } : {}),
      ...(options.exclude ? { exclude: options.exclude } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }),
    options,
  );
}

/** Ingests records (id, title, text, metadata) as text units; `doc_id` metadata keeps the id. */
export async function ingestRecords(
  collection: string,
  records: Iterable<IngestRecord> | AsyncIterable<IngestRecord>,
  options: IngestRecordsOptions,
): Promise<IngestReport> {
  ingestSettings(options);
  const source = recordsSource(records, {
    ...(options.source !== undefined ? { source: options.source } : {}),
    ...(options.titleInText !== undefined ? { titleInText: options.titleInText } : {}),
    complete: options.removeMissing === true,
  });
  return ingestSources(collection, source, options);
}
