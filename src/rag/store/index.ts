// Opening collections: an existing one at its committed state, or a new one that exists only
// once its first ingest commits. The embedder a collection was built with is enforced here.
import { InfuseError } from "../../core/errors.js";
import type { SplitterSettings } from "../split/index.js";
import { readManifest, requireManifest } from "./collections.js";
import { LanceCollection } from "./lancedb.js";
import { DEFAULT_FTS, type CollectionStore, type FtsSettings } from "./types.js";

export * from "./types.js";
export {
  listCollections,
  deleteCollection,
  readManifest,
  requireManifest,
  summarize,
  type CollectionSummary,
} from "./collections.js";
export { filterToSql, parseFilterArgs } from "./filter.js";
export { LanceCollection } from "./lancedb.js";

/** Opens an existing collection; `rag.collection_not_found` (with the existing names) if absent. */
export async function openCollection(dataDir: string, name: string): Promise<CollectionStore> {
  return new LanceCollection(dataDir, await requireManifest(dataDir, name));
}

export interface CollectionInit {
  embedder: { id: string; spec: string; dimension: number };
  splitter: SplitterSettings;
  fts?: Partial<FtsSettings>;
}

/**
 * Opens a collection for ingest, creating it (uncommitted) if needed. An existing collection
 * must have been built with the same embedder and splitter: vectors and chunks would not match.
 */
export async function openOrCreateCollection(
  dataDir: string,
  name: string,
  init: CollectionInit,
): Promise<CollectionStore> {
  const existing = await readManifest(dataDir, name);
  if (existing) {
    checkEmbedder(existing.name, existing.embedder, init.embedder);
    const a = existing.splitter;
    const b = init.splitter;
    if (a.kind !== b.kind || a.chunkSize !== b.chunkSize || a.overlap !== b.overlap) {
      throw new InfuseError(
        "rag.splitter_mismatch",
        `collection "${name}" was split with ${a.kind} ${a.chunkSize}/${a.overlap}, not ${b.kind} ${b.chunkSize}/${b.overlap}`,
        {
          kind: "usage",
          hint: `ingest with the collection's splitter settings, or into a new collection (or delete "${name}" first)`,
        },
      );
    }
    const changed = Object.entries(init.fts ?? {}).filter(([k, v]) => existing.fts[k as keyof FtsSettings] !== v);
    if (changed.length > 0) {
      throw new InfuseError(
        "rag.fts_mismatch",
        `collection "${name}" has a full-text analyzer with other settings (${changed.map(([k]) => k).join(", ")})`,
        {
          kind: "usage",
          hint: `the analyzer is fixed when a collection is created: ingest into a new collection, or delete "${name}" first`,
        },
      );
    }
    return new LanceCollection(dataDir, existing);
  }
  const now = new Date().toISOString();
  return new LanceCollection(dataDir, {
    format: 1,
    name,
    embedder: init.embedder,
    splitter: init.splitter,
    fts: { ...DEFAULT_FTS, ...init.fts },
    createdAt: now,
    updatedAt: now,
    tableVersion: 0,
    chunks: 0,
    units: {},
  });
}

/** A clear error when a collection is used with another embedder than it was built with. */
export function checkEmbedder(
  collection: string,
  built: { id: string; dimension: number },
  used: { id: string; dimension?: number },
): void {
  if (built.id !== used.id || (used.dimension !== undefined && used.dimension !== built.dimension)) {
    throw new InfuseError(
      "rag.embedder_mismatch",
      `collection "${collection}" was built with embedder ${built.id} (${built.dimension} dims), not ${used.id}`,
      {
        kind: "usage",
        hint: `use --embedder with the collection's embedder, or re-ingest into a new collection with ${used.id}`,
        details: { collection, built: built.id, used: used.id },
      },
    );
  }
}
