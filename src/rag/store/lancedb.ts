// The embedded store: one LanceDB table per collection on local disk, with exact cosine kNN,
// a BM25 full-text index, SQL metadata filters, and commits made atomic by LanceDB versions
// plus the manifest swap (which maps the neutral revision to a table version). Past a configurable
// size an ANN index (lance-index.ts) replaces exact search; its parameters live in the manifest.
import type * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } from "apache-arrow";
import { rm } from "node:fs/promises";
import path from "node:path";
import { diskError, InfuseError, throwIfAborted } from "../../core/errors.js";
import type { Chunk, MetadataValue } from "../types.js";
import { chunkFromRow } from "./chunk-row.js";
import { collectionDir, readManifestFile, writeManifestFile, type LanceState } from "./collections.js";
import { filterToSql, metadataTokens, sqlString } from "./filter.js";
import { DEFAULT_ANN, maintainVectorIndex, withAnnSearch, type AnnSettings } from "./lance-index.js";
import { acquireWriteLock, waitForWriteLock, withWriteLock } from "./lock.js";
import { changedError, checkEmbedder, committedManifest, isEmptyChange, rebaseChange } from "./manifest.js";
import type {
  CollectionChange,
  CollectionManifest,
  CollectionStore,
  CommitOptions,
  CompactReport,
  ScoredChunk,
  SearchOptions,
  StoredChunk,
  WriteLock,
} from "./types.js";

type LanceModule = typeof lancedb;
let lanceModule: Promise<LanceModule> | undefined;

/** LanceDB, loaded on first use. Its Rust logger reads LANCEDB_LOG when the module loads and
 * would print warnings such as "no existing dataset" on every create: errors only, unless set. */
export function lance(): Promise<LanceModule> {
  process.env["LANCEDB_LOG"] ??= "error";
  lanceModule ??= import("@lancedb/lancedb");
  return lanceModule;
}

export const TABLE = "chunks";
const ADD_BATCH = 2048;
const IN_BATCH = 500;
const CHUNK_COLUMNS = ["id", "text", "source", "page", "heading", "char_start", "char_end", "metadata"];

function schemaFor(dimension: number): Schema {
  return new Schema([
    new Field("id", new Utf8(), false),
    new Field("text", new Utf8(), false),
    new Field("source", new Utf8(), false),
    new Field("page", new Int32(), true),
    new Field("heading", new Utf8(), false),
    new Field("char_start", new Int32(), false),
    new Field("char_end", new Int32(), false),
    new Field("metadata", new Utf8(), false),
    new Field("meta_kv", new List(new Field("item", new Utf8(), true)), false),
    new Field("text_hash", new Utf8(), false),
    new Field("unit_key", new Utf8(), false),
    new Field("vector", new FixedSizeList(dimension, new Field("item", new Float32(), true)), false),
  ]);
}

function toRow(c: StoredChunk): Record<string, unknown> {
  return {
    id: c.id,
    text: c.text,
    source: c.source,
    page: c.page ?? null,
    heading: JSON.stringify(c.headingPath ?? []),
    char_start: c.start,
    char_end: c.end,
    metadata: JSON.stringify(c.metadata),
    meta_kv: metadataTokens(c.metadata),
    text_hash: c.textHash,
    unit_key: c.unitKey,
    vector: Array.from(c.vector),
  };
}

function fromRow(r: Record<string, unknown>): Chunk {
  return chunkFromRow(
    r,
    r["id"],
    JSON.parse(String(r["heading"] ?? "[]")) as string[],
    JSON.parse(String(r["metadata"] ?? "{}")) as Record<string, MetadataValue>,
  );
}

/** The provider id of a LanceDB root folder, as messages and locks name it. */
export function lanceStoreId(root: string): string {
  return `lancedb:${root}`;
}

export class LanceCollection implements CollectionStore {
  #manifest: CollectionManifest;
  /** The table version the manifest's revision maps to (0 while never committed). */
  #tableVersion: number;
  readonly #root: string;
  #db: lancedb.Connection | undefined;
  #reader: lancedb.Table | undefined;
  readonly #ann: AnnSettings;

  /** A collection at its committed state under `root`; revision 0 means not yet committed (new). */
  constructor(root: string, state: LanceState, ann: AnnSettings = DEFAULT_ANN) {
    this.#root = root;
    this.#manifest = state.manifest;
    this.#tableVersion = state.tableVersion;
    this.#ann = ann;
  }

  get manifest(): CollectionManifest {
    return this.#manifest;
  }

  get #dir(): string {
    return collectionDir(this.#root, this.#manifest.name);
  }

  get #lanceDir(): string {
    return path.join(this.#dir, "lance");
  }

  async #connect(): Promise<lancedb.Connection> {
    this.#db ??= await (await lance()).connect(this.#lanceDir);
    return this.#db;
  }

  /** The table as of the committed version (writes in progress are invisible). */
  async #read(): Promise<lancedb.Table | undefined> {
    if (this.#manifest.revision === 0) return undefined;
    if (!this.#reader) {
      const table = await (await this.#connect()).openTable(TABLE);
      await table.checkout(this.#tableVersion);
      this.#reader = table;
    }
    return this.#reader;
  }

  async count(): Promise<number> {
    return (await this.#read())?.countRows() ?? 0;
  }

  async searchDense(vector: Float32Array, options: SearchOptions): Promise<ScoredChunk[]> {
    const table = await this.#read();
    if (!table || this.#manifest.chunks === 0) return [];
    if (vector.length !== this.#manifest.embedder.dimension) {
      throw new InfuseError(
        "rag.dimension_mismatch",
        `query vector has ${vector.length} dimensions, collection "${this.#manifest.name}" has ${this.#manifest.embedder.dimension}`,
        {
          kind: "usage",
          hint: `query with the collection's embedder (${this.#manifest.embedder.id})`,
        },
      );
    }
    let q = withAnnSearch(
      table
        .vectorSearch(Array.from(vector))
        .distanceType("cosine")
        .select([...CHUNK_COLUMNS, "_distance"])
        .limit(options.topK),
      this.#manifest.vectorIndex,
    );
    const where = filterToSql(options.filter);
    if (where) q = q.where(where);
    const rows = (await q.toArray()) as Record<string, unknown>[];
    return rows
      .map((r) => ({ chunk: fromRow(r), score: 1 - Number(r["_distance"]) }))
      .filter((h) => Number.isFinite(h.score));
  }

  async searchText(query: string, options: SearchOptions): Promise<ScoredChunk[]> {
    const table = await this.#read();
    if (!table || this.#manifest.chunks === 0 || query.trim().length === 0) return [];
    let q = table
      .search(new (await lance()).MatchQuery(query, "text"))
      .select([...CHUNK_COLUMNS, "_score"])
      .limit(options.topK);
    const where = filterToSql(options.filter);
    if (where) q = q.where(where);
    const rows = (await q.toArray()) as Record<string, unknown>[];
    return rows.map((r) => ({ chunk: fromRow(r), score: Number(r["_score"]) }));
  }

  async vectorsByHash(hashes: string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const table = await this.#read();
    if (!table) return out;
    const unique = [...new Set(hashes)];
    for (let i = 0; i < unique.length; i += IN_BATCH) {
      const list = unique
        .slice(i, i + IN_BATCH)
        .map(sqlString)
        .join(", ");
      const rows = (await table
        .query()
        .where(`text_hash IN (${list})`)
        .select(["text_hash", "vector"])
        .toArray()) as Record<string, unknown>[];
      for (const r of rows) out.set(String(r["text_hash"]), Float32Array.from(r["vector"] as Iterable<number>));
    }
    return out;
  }

  async chunksOf(unitKey: string): Promise<Chunk[]> {
    const table = await this.#read();
    if (!table) return [];
    const rows = (await table
      .query()
      .where(`unit_key = ${sqlString(unitKey)}`)
      .select(CHUNK_COLUMNS)
      .toArray()) as Record<string, unknown>[];
    return rows
      .map(fromRow)
      .sort((a, b) => a.source.localeCompare(b.source) || (a.page ?? 0) - (b.page ?? 0) || a.start - b.start);
  }

  /** The table at its latest version, rolled back first if a previous writer died uncommitted. */
  async #writer(): Promise<lancedb.Table> {
    const db = await this.#connect();
    const tableVersion = this.#tableVersion;
    const { embedder } = this.#manifest;
    const exists = (await db.tableNames()).includes(TABLE);
    if (tableVersion === 0 || !exists) {
      if (tableVersion !== 0) {
        throw new InfuseError(
          "rag.collection_corrupt",
          `collection "${this.#manifest.name}" has a manifest but no table`,
          {
            kind: "input",
            hint: `delete it with \`infuse collections delete ${this.#manifest.name}\` and ingest again`,
          },
        );
      }
      return db.createEmptyTable(TABLE, schemaFor(embedder.dimension), { mode: "overwrite" });
    }
    const table = await db.openTable(TABLE);
    if ((await table.version()) !== tableVersion) await this.#rollback(table, tableVersion);
    return table;
  }

  async #rollback(table: lancedb.Table, version: number): Promise<void> {
    await table.checkout(version);
    await table.restore();
  }

  /**
   * Runs `fn` under the writer lock once the collection on disk is still at this revision (or
   * `rag.collection_changed`); a compaction since then moved only the table version, adopted here.
   */
  async #locked<T>(
    lock: WriteLock | undefined,
    doing: string,
    fn: () => Promise<T>,
    rebase?: { signal: AbortSignal | undefined },
  ): Promise<T> {
    const name = this.#manifest.name;
    const store = lanceStoreId(this.#root);
    const take = () => acquireWriteLock(this.#dir, name, store);
    return withWriteLock(
      lock,
      rebase ? () => waitForWriteLock(take, rebase.signal) : take,
      { collection: name, store },
      async () => {
        const current = await readManifestFile(this.#root, name);
        if ((current?.manifest.revision ?? 0) !== this.#manifest.revision) {
          if (!rebase || (!current && this.#manifest.revision !== 0)) throw changedError(name, doing);
          // another writer committed meanwhile: continue from its revision (see rebaseChange)
          checkEmbedder(name, current!.manifest.embedder, this.#manifest.embedder);
          this.#manifest = current!.manifest;
        }
        if (current && current.tableVersion !== this.#tableVersion) {
          this.#tableVersion = current.tableVersion;
          this.#closeReader();
        }
        return fn();
      },
    );
  }

  async commit(change: CollectionChange, options: CommitOptions = {}): Promise<CollectionManifest> {
    try {
      return await this.#locked(
        options.lock,
        "this one was writing",
        () => {
          if (!options.rebase) return this.#commitLocked(change, options);
          const { change: rebased, skipped } = rebaseChange(this.#manifest, change);
          options.onSkipped?.(skipped);
          // everything it brings is stored already (by another writer): no new revision
          if (this.#manifest.revision > 0 && isEmptyChange(rebased)) return Promise.resolve(this.#manifest);
          return this.#commitLocked(rebased, options);
        },
        options.rebase ? { signal: options.signal } : undefined,
      );
    } catch (e) {
      throw this.#diskError(e, "write");
    }
  }

  /** A disk refusal (full, read-only, denied) as a named io error; LanceDB's carry `os error N`. */
  #diskError(e: unknown, doing: string): unknown {
    return diskError(
      e,
      this.#dir,
      `${doing} collection "${this.#manifest.name}"`,
      "the collection keeps its last commit",
    );
  }

  async compact(): Promise<CompactReport> {
    const name = this.#manifest.name;
    if (this.#manifest.revision === 0) {
      return { collection: name, versionsRemoved: 0, bytesRemoved: 0, fragmentsRemoved: 0, fragmentsAdded: 0 };
    }
    return this.#locked(undefined, "compacting", () => this.#compactLocked()).catch((e: unknown) => {
      throw this.#diskError(e, "compact");
    });
  }

  async #compactLocked(): Promise<CompactReport> {
    const name = this.#manifest.name;
    const table = await this.#writer();
    try {
      const committed = (await table.listVersions()).find((v) => v.version === this.#tableVersion);
      // the committed version stays until the manifest points past it, so a crash here is harmless
      const stats = await table.optimize(committed ? { cleanupOlderThan: committed.timestamp } : {});
      const tableVersion = await table.version();
      await writeManifestFile(this.#root, { manifest: this.#manifest, tableVersion });
      this.#tableVersion = tableVersion;
      this.#closeReader();
      return {
        collection: name,
        versionsRemoved: stats.prune.oldVersionsRemoved,
        bytesRemoved: stats.prune.bytesRemoved,
        fragmentsRemoved: stats.compaction.fragmentsRemoved,
        fragmentsAdded: stats.compaction.fragmentsAdded,
      };
    } finally {
      table.close();
    }
  }

  /**
   * Trains the collection's vector index now with `settings` (default: the provider's), whatever
   * its size, and records it in the manifest under the same revision (the chunks do not change).
   */
  async rebuildVectorIndex(settings: AnnSettings = this.#ann): Promise<CollectionManifest> {
    if (this.#manifest.revision === 0) return this.#manifest;
    return this.#locked(undefined, "indexing", async () => {
      const table = await this.#writer();
      try {
        const chunks = await table.countRows();
        const vectorIndex = await maintainVectorIndex(
          table,
          chunks,
          this.#manifest.embedder.dimension,
          this.#manifest.vectorIndex,
          { ...settings, minRows: 1 },
          true,
        );
        const manifest = { ...this.#manifest, ...(vectorIndex ? { vectorIndex } : {}) };
        const tableVersion = await table.version();
        await writeManifestFile(this.#root, { manifest, tableVersion });
        this.#manifest = manifest;
        this.#tableVersion = tableVersion;
        this.#closeReader();
        return manifest;
      } finally {
        table.close();
      }
    }).catch((e: unknown) => {
      throw this.#diskError(e, "index");
    });
  }

  async #commitLocked(change: CollectionChange, options: CommitOptions): Promise<CollectionManifest> {
    const before = this.#manifest;
    const beforeVersion = this.#tableVersion;
    const table = await this.#writer();
    try {
      for (let i = 0; i < change.removeUnits.length; i += IN_BATCH) {
        throwIfAborted(options.signal, "ingest");
        await table.delete(
          `unit_key IN (${change.removeUnits
            .slice(i, i + IN_BATCH)
            .map(sqlString)
            .join(", ")})`,
        );
      }
      for (let i = 0; i < change.add.length; i += ADD_BATCH) {
        throwIfAborted(options.signal, "ingest");
        await table.add(change.add.slice(i, i + ADD_BATCH).map(toRow));
        options.onStored?.(Math.min(change.add.length, i + ADD_BATCH));
      }
      throwIfAborted(options.signal, "ingest");
      const chunks = await table.countRows();
      if (chunks > 0) await table.createIndex("text", { config: (await lance()).Index.fts(before.fts), replace: true });
      const vectorIndex = await maintainVectorIndex(
        table,
        chunks,
        before.embedder.dimension,
        before.vectorIndex,
        this.#ann,
      );
      throwIfAborted(options.signal, "ingest");
      const manifest = { ...committedManifest(before, change, chunks), ...(vectorIndex ? { vectorIndex } : {}) };
      const tableVersion = await table.version();
      throwIfAborted(options.signal, "ingest");
      await writeManifestFile(this.#root, { manifest, tableVersion });
      this.#manifest = manifest;
      this.#tableVersion = tableVersion;
      this.#closeReader();
      return manifest;
    } catch (e) {
      // best effort: if the disk refuses the clean-up too, the next writer rolls back (see #writer)
      try {
        if (before.revision === 0) {
          table.close();
          this.#db?.close();
          this.#db = undefined;
          await rm(this.#lanceDir, { recursive: true, force: true });
        } else await this.#rollback(table, beforeVersion);
      } catch {
        // the manifest still names the last commit; e says why this one failed
      }
      throw e;
    } finally {
      if (table.isOpen()) table.close();
    }
  }

  #closeReader(): void {
    this.#reader?.close();
    this.#reader = undefined;
  }

  close(): void {
    this.#closeReader();
    this.#db?.close();
    this.#db = undefined;
  }
}
