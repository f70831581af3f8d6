// The embedded store provider: LanceDB collections in one folder on local disk (by default
// <dataDir>/collections). Nothing is held open between calls: each collection opens its own
// connection, so `close()` has nothing to release.
import { rm } from "node:fs/promises";
import path from "node:path";
import { collectionDir, collectionNames, collectionsDir, readManifestFile } from "./collections.js";
import { LanceCollection, lanceStoreId } from "./lancedb.js";
import { acquireWriteLock } from "./lock.js";
import { checkInit, newManifest, notFound, summarize } from "./manifest.js";
import type {
  CollectionInit,
  CollectionManifest,
  CollectionStore,
  CollectionSummary,
  CompactReport,
  StoreProvider,
  WriteLock,
} from "./types.js";

export interface LanceDbStoreOptions {
  /** The folder that holds the collections; default `<dataDir>/collections`. */
  path?: string;
}

export class LanceDbStoreProvider implements StoreProvider {
  /** The folder that holds one sub-folder per collection. */
  readonly root: string;

  constructor(dataDir: string, options: LanceDbStoreOptions = {}) {
    this.root = path.resolve(options.path ?? collectionsDir(dataDir));
  }

  describe(): string {
    return lanceStoreId(this.root);
  }

  async list(): Promise<CollectionSummary[]> {
    const out: CollectionSummary[] = [];
    for (const name of await collectionNames(this.root)) {
      const state = await readManifestFile(this.root, name);
      if (state) out.push(summarize(state.manifest));
    }
    return out;
  }

  async manifest(name: string): Promise<CollectionManifest | undefined> {
    return (await readManifestFile(this.root, name))?.manifest;
  }

  async requireManifest(name: string): Promise<CollectionManifest> {
    return (await this.#require(name)).manifest;
  }

  async open(name: string): Promise<CollectionStore> {
    return new LanceCollection(this.root, await this.#require(name));
  }

  async openOrCreate(name: string, init: CollectionInit): Promise<CollectionStore> {
    const existing = await readManifestFile(this.root, name);
    if (existing) return new LanceCollection(this.root, { ...existing, manifest: checkInit(existing.manifest, init) });
    return new LanceCollection(this.root, { manifest: newManifest(name, init), tableVersion: 0 });
  }

  async delete(name: string): Promise<void> {
    await this.#require(name);
    const lock = await this.lock(name);
    try {
      await rm(collectionDir(this.root, name), { recursive: true, force: true });
    } finally {
      await lock.release();
    }
  }

  lock(name: string): Promise<WriteLock> {
    return acquireWriteLock(collectionDir(this.root, name), name, this.describe());
  }

  async compact(name: string): Promise<CompactReport> {
    const store = await this.open(name);
    try {
      return await store.compact();
    } finally {
      store.close();
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async #require(name: string) {
    const state = await readManifestFile(this.root, name);
    if (state) return state;
    throw notFound(
      name,
      this.root,
      (await this.list()).map((c) => c.name),
    );
  }
}
