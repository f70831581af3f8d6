// Puts a BEIR corpus into a collection once per embedding model: one chunk per document (BEIR
// scores documents), title + text indexed, the BEIR id kept as `doc_id`. Records are committed in
// batches, so an interrupted ingest resumes after the last batch; re-running finds every record
// unchanged, so vectors are computed once. Leaves out splitting long documents.
import { createHash } from "node:crypto";
import path from "node:path";
import type { TaskOptions } from "../core/progress.js";
import { ingestRecords, type IngestReport } from "../rag/pipeline/ingest.js";
import type { FtsSettings, StoreProvider } from "../rag/store/index.js";
import type { Embedder } from "../rag/types.js";
import type { BeirDataset } from "./beir.js";

export interface BeirCollectionOptions extends TaskOptions {
  dataDir: string;
  /** Where the collection lives; default LanceDB in the data folder. */
  store?: StoreProvider;
  embedder: Embedder;
  /** How to recreate the embedder (stored with the collection). */
  embedderSpec?: string;
  fts?: Partial<FtsSettings>;
  /** Collection name; default derived from the folder and the embedder. */
  collection?: string;
  /** Records per commit; default 2000. */
  batchRecords?: number;
}

/** Collection names are at most 64 characters (rag/store/manifest.ts). */
const MAX_NAME = 64;

/** `beir-<folder>-<hash of path>-<embedder id>`, safe as a collection name (shortened to fit). */
export function beirCollectionName(dir: string, embedderId: string, fts?: Partial<FtsSettings>): string {
  const key = createHash("sha256")
    .update(path.resolve(dir) + JSON.stringify(fts ?? {}))
    .digest("hex")
    .slice(0, 8);
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "");
  const embedder = clean(embedderId);
  const name = `beir-${clean(path.basename(dir))}-${key}-${embedder}`;
  if (name.length <= MAX_NAME) return name;
  // too long for a collection name: the folder part gives way first, then a long embedder id
  // stands as its hash (the name stays one per folder, analyzer and embedder)
  const tail = `${key}-${embedder.length <= 40 ? embedder : createHash("sha256").update(embedder).digest("hex").slice(0, 12)}`;
  const folder = clean(path.basename(dir)).slice(0, Math.max(0, MAX_NAME - "beir-".length - tail.length - 1));
  return `beir-${folder ? `${folder}-` : ""}${tail}`.slice(0, MAX_NAME);
}

export async function ingestBeirCorpus(
  dataset: BeirDataset,
  options: BeirCollectionOptions,
): Promise<{ collection: string; report: IngestReport }> {
  const collection = options.collection ?? beirCollectionName(dataset.dir, options.embedder.id, options.fts);
  const records = dataset.corpus.map((d) => ({ id: d.id, text: d.text, ...(d.title ? { title: d.title } : {}) }));
  const batch = options.batchRecords ?? 2000;
  let total: IngestReport | undefined;
  for (let i = 0; i < records.length || i === 0; i += batch) {
    const report = await ingestRecords(collection, records.slice(i, i + batch), {
      dataDir: options.dataDir,
      ...(options.store ? { store: options.store } : {}),
      embedder: options.embedder,
      ...(options.embedderSpec ? { embedderSpec: options.embedderSpec } : {}),
      splitter: { kind: "none" },
      ...(options.fts ? { fts: options.fts } : {}),
      source: "beir",
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress
        ? {
            onProgress: (e) =>
              options.onProgress!({ ...e, note: `documents ${i + 1}-${i + batch} of ${records.length}` }),
          }
        : {}),
    });
    total = total ? merge(total, report) : report;
  }
  return { collection, report: total! };
}

function merge(a: IngestReport, b: IngestReport): IngestReport {
  return {
    ...b,
    added: [...a.added, ...b.added],
    updated: [...a.updated, ...b.updated],
    removed: [...a.removed, ...b.removed],
    unchanged: a.unchanged + b.unchanged,
    chunksAdded: a.chunksAdded + b.chunksAdded,
    embedded: a.embedded + b.embedded,
    cached: a.cached + b.cached,
    ...(a.embeddedTokens !== undefined || b.embeddedTokens !== undefined
      ? { embeddedTokens: (a.embeddedTokens ?? 0) + (b.embeddedTokens ?? 0) }
      : {}),
    failed: [...a.failed, ...b.failed],
    duplicates: [...a.duplicates, ...b.duplicates],
    warnings: [...a.warnings, ...b.warnings],
    seconds: a.seconds + b.seconds,
  };
}
