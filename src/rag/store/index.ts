// The store seam's public face: the provider interface and its LanceDB implementation, the
// config's provider factory, and the data-folder functions older callers use (thin wrappers
// over `new LanceDbStoreProvider(dataDir)`, kept until every caller takes a provider).
import { LanceDbStoreProvider } from "./lancedb-provider.js";
import type { CollectionInit, CollectionManifest, CollectionStore, CollectionSummary } from "./types.js";

export * from "./types.js";
export { checkCollectionName, checkEmbedder, summarize } from "./manifest.js";
export { filterToSql, parseFilterArgs } from "./filter.js";
export { LanceCollection } from "./lancedb.js";
export { LanceDbStoreProvider, type LanceDbStoreOptions } from "./lancedb-provider.js";
export { storeProvider } from "./provider.js";

/** Opens an existing collection; `rag.collection_not_found` (with the existing names) if absent. */
export function openCollection(dataDir: string, name: string): Promise<CollectionStore> {
  return new LanceDbStoreProvider(dataDir).open(name);
}

/** Opens a collection for ingest, creating it (uncommitted) if needed; see `StoreProvider.openOrCreate`. */
export function openOrCreateCollection(dataDir: string, name: string, init: CollectionInit): Promise<CollectionStore> {
  return new LanceDbStoreProvider(dataDir).openOrCreate(name, init);
}

/** The manifest, or undefined if the collection does not exist (never committed). */
export function readManifest(dataDir: string, name: string): Promise<CollectionManifest | undefined> {
  return new LanceDbStoreProvider(dataDir).manifest(name);
}

export function requireManifest(dataDir: string, name: string): Promise<CollectionManifest> {
  return new LanceDbStoreProvider(dataDir).requireManifest(name);
}

/** Committed collections, by name. */
export function listCollections(dataDir: string): Promise<CollectionSummary[]> {
  return new LanceDbStoreProvider(dataDir).list();
}

export function deleteCollection(dataDir: string, name: string): Promise<void> {
  return new LanceDbStoreProvider(dataDir).delete(name);
}
