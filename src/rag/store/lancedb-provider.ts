// The embedded store provider: LanceDB collections in one folder on local disk (by default
// <dataDir>/collections). Nothing is held open between calls: each collection opens its own
// connection, so `close()` has nothing to release.
import { rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { diskError, isInfuseError } from "../../core/errors.js";
import {
  collectionDir,
  collectionNames,
  collectionsDir,
  MANIFEST_FILE,
  readManifestFile,
  type LanceState,
} from "./collections.js";
import { DEFAULT_ANN, type AnnSettings } from "./lance-index.js";
import { LanceCollection, lanceStoreId } from "./lancedb.js";
import { acquireWriteLock } from "./lock.js";
import { checkInit, newManifest, notFound, summarize } from "./manifest.js";
import { repairCollection } from "./repair.js";
import type {
  CollectionInit,
  CollectionManifest,
  CollectionStore,
  CollectionSummary,
  CompactReport,
  DamagedCollection,
  RepairReport,
  StoreProvider,
  WriteLock,
} from "./types.js";

export interface LanceDbStoreOptions {
  /** The folder that holds the collections; default `<dataDir>/collections`. */
  path?: string;
  /** When collections get an ANN index and how it searches; default DEFAULT_ANN (from 100,000 chunks, IVF-PQ). */
  ann?: Partial<AnnSettings>;
}

export class LanceDbStoreProvider implements StoreProvider {
  /** The folder that holds one sub-folder per collection. */
  readonly root: string;

  readonly #ann: AnnSettings;

  constructor(dataDir: string, options: LanceDbStoreOptions = {}) {
    this.root = path.resolve(options.path ?? collectionsDir(dataDir));
    this.#ann = { ...DEFAULT_ANN, ...options.ann };
  }

  describe(): string {
    return lanceStoreId(this.root);
  }

  async list(): Promise<CollectionSummary[]> {
    return (await this.#scan()).flatMap((c) => ("state" in c ? [summarize(c.state.manifest)] : []));
  }

  async damaged(): Promise<DamagedCollection[]> {
    return (await this.#scan()).flatMap((c) => ("damaged" in c ? [c.damaged] : []));
  }

  /** Every committed collection: its state, or why its manifest cannot be read. */
  async #scan(): Promise<({ state: LanceState } | { damaged: DamagedCollection })[]> {
    const out: ({ state: LanceState } | { damaged: DamagedCollection })[] = [];
    for (const name of await collectionNames(this.root)) {
      try {
        const state = await readManifestFile(this.root, name);
        if (state) out.push({ state });
      } catch (e) {
        if (!isInfuseError(e)) throw e;
        out.push({ damaged: { name, error: e.code, message: e.message, hint: e.hint ?? "" } });
      }
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
    return new LanceCollection(this.root, await this.#require(name), this.#ann);
  }

  async openOrCreate(name: string, init: CollectionInit): Promise<CollectionStore> {
    const existing = await readManifestFile(this.root, name);
    if (existing)
      return new LanceCollection(this.root, { ...existing, manifest: checkInit(existing.manifest, init) }, this.#ann);
    return new LanceCollection(this.root, { manifest: newManifest(name, init), tableVersion: 0 }, this.#ann);
  }

  /**
   * Deletes under the writer lock, a damaged collection too: the folder is first renamed out of
   * the listing (atomic), then removed, so a refused or cut-short removal never leaves half a
   * collection that still lists.
   */
  async delete(name: string): Promise<void> {
    const dir = collectionDir(this.root, name);
    const exists = await stat(path.join(dir, MANIFEST_FILE)).then(
      () => true,
      () => false,
    );
    if (!exists) await this.#require(name);
    const lock = await this.lock(name);
    const trash = path.join(this.root, `.deleting-${name}-${process.pid}`);
    try {
      await rename(dir, trash);
    } catch (e) {
      await lock.release();
      throw diskError(e, dir, `delete collection "${name}"`, "nothing was deleted");
    }
    await rm(trash, { recursive: true, force: true }).catch((e: unknown) => {
      throw diskError(
        e,
        trash,
        `remove the files of deleted collection "${name}"`,
        `the collection is gone; remove ${trash} by hand`,
      );
    });
  }

  repair(name: string): Promise<RepairReport> {
    return repairCollection(this.root, name);
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
