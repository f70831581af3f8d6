// The server store provider: collections in a Postgres database with pgvector, in one schema
// (default "infuse"; `?schema=` in the URL picks another). The manifest of each collection is a
// row of `collections`; its chunks and postings are tables of its own (tables.ts). Migrations run
// once per provider, at first use. Many processes and machines may share one database.
import type pg from "pg";
import { InfuseError } from "../../../core/errors.js";
import { checkCollectionName, checkInit, newManifest, notFound, summarize } from "../manifest.js";
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
} from "../types.js";
import { PgCollection, type PgContext, type PgState } from "./collection.js";
import { inTransaction, newPool, pgError } from "./connection.js";
import { acquirePgLock } from "./lock.js";
import { migrate } from "./migrations.js";
import { dropTables } from "./tables.js";
import { parsePgUrl, type PgTarget } from "./url.js";

interface Row {
  id: string;
  name: string;
  revision: number;
  manifest: unknown;
}

/** A stored manifest that reads as format 2 with this row's name and revision, or why not. */
function readManifest(row: Row): CollectionManifest | string {
  const m = row.manifest as Partial<CollectionManifest> | null;
  if (!m || typeof m !== "object") return "its manifest is not a JSON object";
  if (m.format !== 2) return `its manifest has format ${JSON.stringify(m.format)}, not 2`;
  if (m.name !== row.name || m.revision !== row.revision) return "its manifest names another collection or revision";
  if (!m.embedder || !m.splitter || !m.fts || !m.units)
    return "its manifest lacks the embedder, splitter, analyzer or units";
  return m as CollectionManifest;
}

/** Chunks from which a collection gets its HNSW index (exact search below). */
export const HNSW_MIN_ROWS = 5000;

export interface PostgresStoreOptions {
  /** Chunks from which a collection gets its HNSW index; default HNSW_MIN_ROWS. */
  hnswMinRows?: number;
}

export class PostgresStoreProvider implements StoreProvider {
  readonly target: PgTarget;
  readonly #pool: pg.Pool;
  readonly #hnswMinRows: number;
  #ready: Promise<void> | undefined;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.target = parsePgUrl(url);
    this.#pool = newPool(this.target);
    this.#hnswMinRows = options.hnswMinRows ?? HNSW_MIN_ROWS;
  }

  describe(): string {
    const { masked, schema } = this.target;
    return `${masked}${masked.includes("?") ? "&" : "?"}schema=${schema}`;
  }

  get #ctx(): PgContext {
    return { pool: this.#pool, target: this.target, store: this.describe(), hnswMinRows: this.#hnswMinRows };
  }

  /** The schema migrated (once per provider; retried after a failure). */
  #migrated(): Promise<void> {
    this.#ready ??= (async () => {
      let client: pg.PoolClient | undefined;
      try {
        client = await this.#pool.connect();
        await migrate(client, this.target.schema);
      } catch (e) {
        this.#ready = undefined;
        throw pgError(e, this.target, "prepare schema on");
      } finally {
        client?.release();
      }
    })();
    return this.#ready;
  }

  async #rows(doing: string, name?: string): Promise<Row[]> {
    await this.#migrated();
    try {
      const r = await this.#pool.query<Row>(
        `SELECT id, name, revision, manifest FROM collections ${name === undefined ? "" : "WHERE name = $1"} ORDER BY name`,
        name === undefined ? [] : [name],
      );
      return r.rows;
    } catch (e) {
      throw pgError(e, this.target, doing);
    }
  }

  async #state(name: string): Promise<PgState | undefined> {
    const [row] = await this.#rows("read", name);
    if (!row) return undefined;
    const m = readManifest(row);
    if (typeof m === "string") throw this.#corrupt(name, m);
    return { id: row.id, manifest: m };
  }

  #corrupt(name: string, why: string): InfuseError {
    return new InfuseError("rag.collection_corrupt", `collection "${name}" in ${this.describe()} is damaged: ${why}`, {
      kind: "input",
      hint: `delete it with \`infuse collections delete ${name}\` and ingest again`,
      details: { collection: name },
    });
  }

  async list(): Promise<CollectionSummary[]> {
    return (await this.#rows("list collections on")).flatMap((row) => {
      const m = readManifest(row);
      return typeof m === "string" ? [] : [summarize(m)];
    });
  }

  async damaged(): Promise<DamagedCollection[]> {
    return (await this.#rows("list collections on")).flatMap((row) => {
      const m = readManifest(row);
      if (typeof m !== "string") return [];
      const e = this.#corrupt(row.name, m);
      return [{ name: row.name, error: e.code, message: e.message, hint: e.hint ?? "" }];
    });
  }

  async manifest(name: string): Promise<CollectionManifest | undefined> {
    return (await this.#state(name))?.manifest;
  }

  async requireManifest(name: string): Promise<CollectionManifest> {
    return (await this.#require(name)).manifest;
  }

  async open(name: string): Promise<CollectionStore> {
    return new PgCollection(this.#ctx, await this.#require(name));
  }

  async openOrCreate(name: string, init: CollectionInit): Promise<CollectionStore> {
    checkCollectionName(name);
    const existing = await this.#state(name);
    if (existing) return new PgCollection(this.#ctx, { ...existing, manifest: checkInit(existing.manifest, init) });
    return new PgCollection(this.#ctx, { id: undefined, manifest: newManifest(name, init) });
  }

  /** Deletes under the writer lock, in one transaction: the row and the collection's tables. */
  async delete(name: string): Promise<void> {
    const [row] = await this.#rows("read", name);
    if (!row) await this.#require(name);
    const lock = await acquirePgLock(this.target, name, this.describe());
    try {
      await inTransaction(lock.client, async () => {
        const gone = await lock.client.query<{ id: string }>("DELETE FROM collections WHERE name = $1 RETURNING id", [
          name,
        ]);
        for (const r of gone.rows) await dropTables(lock.client, this.target.schema, r.id);
      });
    } catch (e) {
      throw pgError(e, this.target, `delete collection "${name}" on`);
    } finally {
      await lock.release();
    }
  }

  /** A readable collection is healthy; a damaged manifest row cannot be rebuilt from the tables. */
  async repair(name: string): Promise<RepairReport> {
    const [row] = await this.#rows("read", name);
    if (!row)
      throw notFound(
        name,
        this.describe(),
        (await this.list()).map((c) => c.name),
      );
    const m = readManifest(row);
    if (typeof m === "string") {
      throw new InfuseError("rag.repair_impossible", `collection "${name}" cannot be repaired: ${m}`, {
        kind: "input",
        hint: `delete it with \`infuse collections delete ${name}\` and ingest its sources again`,
      });
    }
    return {
      collection: name,
      status: "healthy",
      revision: m.revision,
      tableVersion: m.revision,
      chunks: m.chunks,
      units: Object.keys(m.units).length,
      unitsReset: 0,
      notes: [],
    };
  }

  async lock(name: string): Promise<WriteLock> {
    await this.#migrated();
    return acquirePgLock(this.target, checkCollectionName(name), this.describe());
  }

  async compact(name: string): Promise<CompactReport> {
    return (await this.open(name)).compact();
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }

  async #require(name: string): Promise<PgState> {
    const state = await this.#state(name);
    if (state) return state;
    throw notFound(
      name,
      this.describe(),
      (await this.list()).map((c) => c.name),
    );
  }
}
