// Ingest: files or records → chunks → vectors (each distinct chunk text embedded once: vectors
// already in the collection are reused by content hash) → one atomic commit. Unchanged units
// are skipped, deleted files removed; a failure or abort leaves the previous state readable.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, isInfuseError, throwIfAborted } from "../../core/errors.js";
import { throttledProgress, type TaskOptions } from "../../core/progress.js";
import { findFiles, loadBytes, type LoadWarning, type TabularOptions } from "../load/index.js";
import { Splitter, splitterSettings, type SplitterSettings } from "../split/index.js";
import {
  openOrCreateCollection,
  type CollectionStore,
  type FtsSettings,
  type IngestedUnit,
  type StoredChunk,
} from "../store/index.js";
import type { Chunk, Embedder, MetadataValue } from "../types.js";

export interface IngestOptions extends TaskOptions {
  dataDir: string;
  embedder: Embedder;
  /** How to recreate the embedder later (stored with the collection); default its id. */
  embedderSpec?: string;
  splitter?: Partial<SplitterSettings>;
  /** Full-text analyzer of a new collection (English stemming + stop words by default). */
  fts?: Partial<FtsSettings>;
  /** Texts per embedding call; default 64. */
  batchSize?: number;
}

export interface IngestPathOptions extends IngestOptions {
  include?: string[];
  exclude?: string[];
  tabular?: TabularOptions;
}

export interface IngestRecord {
  id: string;
  text: string;
  title?: string;
  metadata?: Record<string, MetadataValue>;
}

export interface IngestRecordsOptions extends IngestOptions {
  /** The `source` chunks cite; default "records". */
  source?: string;
  /** Prefix the title to the text that is embedded and indexed; default true. */
  titleInText?: boolean;
  /** Remove records of this source that are not in `records`; default false (add/update only). */
  removeMissing?: boolean;
}

export interface IngestReport {
  collection: string;
  added: string[];
  updated: string[];
  removed: string[];
  unchanged: number;
  chunksAdded: number;
  chunksTotal: number;
  /** Chunk texts embedded now, and those whose vectors were reused from the collection. */
  embedded: number;
  cached: number;
  /** Tokens embedded, where the embedder exposes its tokenizer. */
  embeddedTokens?: number;
  failed: { source: string; reason: string }[];
  warnings: LoadWarning[];
  seconds: number;
}

interface PreparedUnit {
  key: string;
  root: string;
  hash: string;
  chunks: Chunk[];
}

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

async function open(
  collection: string,
  options: IngestOptions,
): Promise<{ store: CollectionStore; splitter: Splitter }> {
  const settings = splitterSettings(options.splitter);
  const embedder = options.embedder;
  const tokenizer = settings.kind === "token" ? await embedder.tokenizer?.() : undefined;
  const splitter = new Splitter(settings, tokenizer);
  const dimension = await embedder.dimension();
  const store = await openOrCreateCollection(options.dataDir, collection, {
    embedder: { id: embedder.id, spec: options.embedderSpec ?? embedder.id, dimension },
    splitter: settings,
    ...(options.fts ? { fts: options.fts } : {}),
  });
  return { store, splitter };
}

/** Ingests a file or a folder (recursively) into a collection, syncing it with the folder. */
export async function ingestPath(
  collection: string,
  target: string,
  options: IngestPathOptions,
): Promise<IngestReport> {
  const started = performance.now();
  const { store, splitter } = await open(collection, options);
  try {
    const walk = {
      ...(options.include ? { include: options.include } : {}),
      ...(options.exclude ? { exclude: options.exclude } : {}),
    };
    const { root, files } = await findFiles(target, { ...walk, ...(options.signal ? { signal: options.signal } : {}) });
    const isFolder = files.length !== 1 || path.join(root, files[0]!.source) !== path.resolve(target);
    const progress = throttledProgress(options.onProgress);
    const units: PreparedUnit[] = [];
    const failed: IngestReport["failed"] = [];
    const warnings: LoadWarning[] = [];
    let unchanged = 0;
    const optionsKey = JSON.stringify(options.tabular ?? {});
    for (const [i, f] of files.entries()) {
      throwIfAborted(options.signal, "ingest");
      progress({ task: "load", done: i, total: files.length, unit: "files", note: f.source });
      try {
        const bytes = await readFile(f.file);
        const hash = sha256(Buffer.concat([bytes, Buffer.from(optionsKey)]));
        const known = store.manifest.units[f.source];
        if (known && known.hash === hash && known.root === root) {
          unchanged++;
          continue;
        }
        const loaded = await loadBytes(
          bytes,
          path.extname(f.file).slice(1).toLowerCase(),
          f.source,
          options.tabular ?? {},
        );
        warnings.push(...loaded.warnings);
        units.push({ key: f.source, root, hash, chunks: splitter.splitAll(loaded.documents) });
      } catch (e) {
        if (isInfuseError(e) && e.kind === "cancelled") throw e;
        failed.push({
          source: f.source,
          reason: isInfuseError(e) ? e.message.replace(`${f.source}: `, "") : String((e as Error).message ?? e),
        });
      }
    }
    progress({ task: "load", done: files.length, total: files.length, unit: "files" });
    const present = new Set(files.map((f) => f.source));
    const removed = isFolder
      ? Object.entries(store.manifest.units)
          .filter(([key, u]) => u.root === root && !present.has(key))
          .map(([key]) => key)
      : [];
    return {
      ...(await apply(store, units, removed, options)),
      unchanged,
      failed,
      warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    store.close();
  }
}

/** Ingests records (id, title, text, metadata) without file loaders; `doc_id` metadata keeps the id. */
export async function ingestRecords(
  collection: string,
  records: Iterable<IngestRecord>,
  options: IngestRecordsOptions,
): Promise<IngestReport> {
  const started = performance.now();
  const { store, splitter } = await open(collection, options);
  try {
    const source = options.source ?? "records";
    const units: PreparedUnit[] = [];
    const seen = new Set<string>();
    let unchanged = 0;
    for (const r of records) {
      if (typeof r.id !== "string" || r.id.length === 0 || typeof r.text !== "string") {
        throw new InfuseError(
          "rag.record_invalid",
          `record ${JSON.stringify(r.id)} needs a non-empty string id and a string text`,
          { kind: "input" },
        );
      }
      const key = `${source}#${r.id}`;
      seen.add(key);
      const text = r.title && options.titleInText !== false ? `${r.title}\n${r.text}` : r.text;
      const metadata: Record<string, MetadataValue> = {
        ...r.metadata,
        doc_id: r.id,
        ...(r.title ? { title: r.title } : {}),
      };
      const hash = sha256(JSON.stringify([text, metadata]));
      const known = store.manifest.units[key];
      if (known && known.hash === hash) {
        unchanged++;
        continue;
      }
      units.push({ key, root: source, hash, chunks: splitter.split({ source, text, metadata }) });
    }
    const removed = options.removeMissing
      ? Object.entries(store.manifest.units)
          .filter(([key, u]) => u.root === source && !seen.has(key))
          .map(([key]) => key)
      : [];
    return {
      ...(await apply(store, units, removed, options)),
      unchanged,
      failed: [],
      warnings: [],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    store.close();
  }
}

type ApplyResult = Omit<IngestReport, "unchanged" | "failed" | "warnings" | "seconds">;

/** Embeds what is new (reusing stored vectors by text hash) and commits adds and removals at once. */
async function apply(
  store: CollectionStore,
  units: PreparedUnit[],
  removed: string[],
  options: IngestOptions,
): Promise<ApplyResult> {
  const manifest = store.manifest;
  const chunks = units.flatMap((u) => u.chunks.map((c) => ({ chunk: c, unitKey: u.key, textHash: sha256(c.text) })));
  const vectors = await store.vectorsByHash(chunks.map((c) => c.textHash));
  const cached = chunks.filter((c) => vectors.has(c.textHash)).length;
  const todo = [
    ...new Map(chunks.filter((c) => !vectors.has(c.textHash)).map((c) => [c.textHash, c.chunk.text])).entries(),
  ];
  const batchSize = options.batchSize ?? 64;
  const progress = throttledProgress(options.onProgress);
  const tokenizer = await options.embedder.tokenizer?.();
  let tokens = 0;
  for (let i = 0; i < todo.length; i += batchSize) {
    throwIfAborted(options.signal, "ingest");
    const batch = todo.slice(i, i + batchSize);
    const out = await options.embedder.embedPassages(
      batch.map(([, text]) => text),
      options.signal ? { signal: options.signal } : {},
    );
    batch.forEach(([hash, text], j) => {
      const v = out[j];
      if (!v || v.length !== manifest.embedder.dimension) {
        throw new InfuseError(
          "rag.embedder_output",
          `embedder ${options.embedder.id} returned ${v?.length ?? "no"} dims, expected ${manifest.embedder.dimension}`,
          { kind: "internal" },
        );
      }
      vectors.set(hash, v);
      if (tokenizer) tokens += tokenizer.countTokens(text);
    });
    progress({ task: "embed", done: Math.min(todo.length, i + batchSize), total: todo.length, unit: "chunks" });
  }
  const now = new Date().toISOString();
  const updatedUnits: Record<string, IngestedUnit | null> = Object.fromEntries(removed.map((k) => [k, null]));
  for (const u of units) updatedUnits[u.key] = { root: u.root, hash: u.hash, chunks: u.chunks.length, ingestedAt: now };
  const add: StoredChunk[] = chunks.map((c) => ({
    ...c.chunk,
    unitKey: c.unitKey,
    textHash: c.textHash,
    vector: vectors.get(c.textHash)!,
  }));
  const replaced = units.filter((u) => manifest.units[u.key]).map((u) => u.key);
  const committed =
    units.length === 0 && removed.length === 0 && manifest.tableVersion !== 0
      ? manifest
      : await store.commit(
          { removeUnits: [...replaced, ...removed], add, units: updatedUnits },
          {
            ...(options.signal ? { signal: options.signal } : {}),
            onStored: (rows) => options.onProgress?.({ task: "store", done: rows, total: add.length, unit: "chunks" }),
          },
        );
  return {
    collection: manifest.name,
    added: units.filter((u) => !manifest.units[u.key]).map((u) => u.key),
    updated: replaced,
    removed,
    chunksAdded: add.length,
    chunksTotal: committed.chunks,
    embedded: todo.length,
    cached,
    ...(tokenizer ? { embeddedTokens: tokens } : {}),
  };
}
