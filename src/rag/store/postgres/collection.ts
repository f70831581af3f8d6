// A Postgres collection at its committed revision. Rows are versioned (rev_added, rev_removed), so
// a reader keeps seeing the revision it opened while later commits land, without holding a
// transaction open; a commit is one transaction (readers never see part of it) that checks the
// revision under a row lock, marks replaced rows removed, inserts the new ones with their BM25
// postings, records the revision's statistics and swaps the manifest.
import type pg from "pg";
import { InfuseError, throwIfAborted } from "../../../core/errors.js";
import type { Chunk } from "../../types.js";
import { withWriteLock } from "../lock.js";
import { changedError, checkEmbedder, committedManifest, isEmptyChange, rebaseChange } from "../manifest.js";
import type {
  CollectionChange,
  CollectionManifest,
  CollectionStore,
  CommitOptions,
  CompactReport,
  ScoredChunk,
  SearchOptions,
} from "../types.js";
import { bm25Sql, CHUNK_COLUMNS, ftsAnalyzer } from "./bm25.js";
import { inTransaction, pgError } from "./connection.js";
import { filterClauses } from "./filter.js";
import type { PgWriteLock } from "./lock.js";
import { busyError, lockKey } from "./lock.js";
import { fromRow, fromVector, insertChunks, toVector } from "./rows.js";
import { createTables, ensureHnsw, tablesOf, VISIBLE, type CollectionTables } from "./tables.js";
import type { PgTarget } from "./url.js";

/** Rows per INSERT: a commit writes in batches and reports each (and checks for an abort). */
const INSERT_BATCH = 1000;

export interface PgState {
  /** The collection's row id; undefined until its first commit. */
  id: string | undefined;
  manifest: CollectionManifest;
}

export interface PgContext {
  pool: pg.Pool;
  target: PgTarget;
  store: string;
  /** Chunks from which a collection gets its HNSW index. */
  hnswMinRows: number;
}

export class PgCollection implements CollectionStore {
  #state: PgState;
  readonly #ctx: PgContext;

  constructor(ctx: PgContext, state: PgState) {
    this.#ctx = ctx;
    this.#state = state;
  }

  get manifest(): CollectionManifest {
    return this.#state.manifest;
  }

  get #tables(): CollectionTables | undefined {
    const { id } = this.#state;
    return id === undefined || this.#state.manifest.revision === 0 ? undefined : tablesOf(this.#ctx.target.schema, id);
  }

  async #query<R extends pg.QueryResultRow>(doing: string, sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await this.#ctx.pool.query<R>(sql, params)).rows;
    } catch (e) {
      throw pgError(e, this.#ctx.target, `${doing} collection "${this.manifest.name}" on`);
    }
  }

  async count(): Promise<number> {
    const t = this.#tables;
    if (!t) return 0;
    const rows = await this.#query<{ n: string }>(
      "count",
      `SELECT count(*) AS n FROM ${t.chunks} c WHERE ${VISIBLE("c", "$1")}`,
      [this.manifest.revision],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async searchDense(vector: Float32Array, options: SearchOptions): Promise<ScoredChunk[]> {
    const t = this.#tables;
    if (!t || this.manifest.chunks === 0) return [];
    const { dimension } = this.manifest.embedder;
    if (vector.length !== dimension) {
      throw new InfuseError(
        "rag.dimension_mismatch",
        `query vector has ${vector.length} dimensions, collection "${this.manifest.name}" has ${dimension}`,
        { kind: "usage", hint: `query with the collection's embedder (${this.manifest.embedder.id})` },
      );
    }
    const params: unknown[] = [toVector(vector), this.manifest.revision, options.topK];
    const where = [VISIBLE("c", "$2"), ...filterClauses(options.filter, "c", params)];
    const sql = `SELECT ${CHUNK_COLUMNS}, (c.embedding <=> $1::vector) AS distance FROM ${t.chunks} c
      WHERE ${where.join(" AND ")} ORDER BY c.embedding <=> $1::vector LIMIT $3`;
    const client = await this.#connect("search");
    try {
      const rows = await inTransaction(client, async () => {
        // the HNSW scan keeps going past filtered-out and old rows until it has topK (pgvector 0.8)
        await client.query(
          "SELECT set_config('hnsw.iterative_scan', 'strict_order', true), set_config('hnsw.ef_search', $1, true)",
          [String(Math.min(1000, Math.max(40, options.topK)))],
        );
        return (await client.query(sql, params)).rows as Record<string, unknown>[];
      });
      return rows
        .map((r) => ({ chunk: fromRow(r), score: 1 - Number(r["distance"]) }))
        .filter((h) => Number.isFinite(h.score));
    } catch (e) {
      throw pgError(e, this.#ctx.target, `search collection "${this.manifest.name}" on`);
    } finally {
      client.release();
    }
  }

  async searchText(query: string, options: SearchOptions): Promise<ScoredChunk[]> {
    const t = this.#tables;
    if (!t || this.manifest.chunks === 0 || query.trim().length === 0) return [];
    const { terms, counts } = ftsAnalyzer(this.manifest.fts).queryTerms(query);
    if (terms.length === 0) return [];
    const { docs, avgLen } = await this.#stats(t);
    const params: unknown[] = [terms, this.manifest.revision, docs, avgLen, options.topK, counts];
    const where = filterClauses(options.filter, "c", params);
    const rows = await this.#query<Record<string, unknown>>(
      "search",
      bm25Sql(t.chunks, t.postings, VISIBLE("c", "$2"), where),
      params,
    );
    return rows.map((r) => ({ chunk: fromRow(r), score: Number(r["score"]) }));
  }

  /** The revision's document count and average length (recounted if compaction dropped its row). */
  async #stats(t: CollectionTables): Promise<{ docs: number; avgLen: number }> {
    const rev = this.manifest.revision;
    let rows = await this.#query<{ docs: string; total_len: string }>(
      "search",
      "SELECT docs, total_len FROM revisions WHERE collection_id = $1 AND revision = $2",
      [this.#state.id, rev],
    );
    if (rows.length === 0) {
      rows = await this.#query(
        "search",
        `SELECT count(*) AS docs, coalesce(sum(doc_len), 0) AS total_len FROM ${t.chunks} c WHERE ${VISIBLE("c", "$1")}`,
        [rev],
      );
    }
    const docs = Number(rows[0]?.docs ?? 0);
    return { docs, avgLen: docs > 0 ? Math.max(1e-9, Number(rows[0]?.total_len ?? 0) / docs) : 1 };
  }

  async vectorsByHash(hashes: string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const t = this.#tables;
    if (!t || hashes.length === 0) return out;
    const rows = await this.#query<{ text_hash: string; v: string }>(
      "read",
      `SELECT DISTINCT ON (text_hash) text_hash, embedding::text AS v FROM ${t.chunks} c
       WHERE text_hash = ANY($1::text[]) AND ${VISIBLE("c", "$2")}`,
      [[...new Set(hashes)], this.manifest.revision],
    );
    for (const r of rows) out.set(r.text_hash, fromVector(r.v));
    return out;
  }

  async chunksOf(unitKey: string): Promise<Chunk[]> {
    const t = this.#tables;
    if (!t) return [];
    const rows = await this.#query<Record<string, unknown>>(
      "read",
      `SELECT ${CHUNK_COLUMNS} FROM ${t.chunks} c WHERE c.unit_key = $1 AND ${VISIBLE("c", "$2")}`,
      [unitKey, this.manifest.revision],
    );
    return rows
      .map(fromRow)
      .sort((a, b) => a.source.localeCompare(b.source) || (a.page ?? 0) - (b.page ?? 0) || a.start - b.start);
  }

  async #connect(doing: string): Promise<pg.PoolClient> {
    try {
      return await this.#ctx.pool.connect();
    } catch (e) {
      throw pgError(e, this.#ctx.target, `${doing} collection "${this.manifest.name}" on`);
    }
  }

  /**
   * Runs `fn` in one transaction under the writer lock: on the held lock's own session, or on a
   * pooled one that takes the lock's key for the transaction. Refuses a stale writer first.
   */
  async #locked<T>(
    lock: CommitOptions["lock"],
    doing: string,
    fn: (c: pg.ClientBase) => Promise<T>,
    rebase = false,
  ): Promise<T> {
    const name = this.manifest.name;
    const { store, target } = this.#ctx;
    const run = async (client: pg.ClientBase, takeKey: boolean) =>
      inTransaction(client, async () => {
        if (takeKey && rebase) {
          // concurrent writers queue here, for one transaction each (no busy error)
          await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [lockKey(target.schema, name)]);
        } else if (takeKey) {
          const got = await client.query<{ ok: boolean }>(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok",
            [lockKey(target.schema, name)],
          );
          if (got.rows[0]?.ok !== true) throw busyError(name, store);
        }
        const current = await client.query<{ id: string; revision: number; manifest: CollectionManifest }>(
          "SELECT id, revision, manifest FROM collections WHERE name = $1 FOR UPDATE",
          [name],
        );
        const row = current.rows[0];
        const same = row
          ? row.id === this.#state.id && row.revision === this.manifest.revision
          : this.manifest.revision === 0;
        if (!same) {
          if (!rebase || !row) throw changedError(name, doing);
          // another writer committed meanwhile: continue from its revision (see rebaseChange)
          checkEmbedder(name, row.manifest.embedder, this.manifest.embedder);
          this.#state = { id: row.id, manifest: row.manifest };
        }
        return fn(client);
      });
    try {
      if (lock) {
        return await withWriteLock(
          lock,
          () => Promise.reject(new Error("unreachable")),
          { collection: name, store },
          () => run((lock as PgWriteLock).client, false),
        );
      }
      const client = await this.#connect("write");
      try {
        return await run(client, true);
      } finally {
        client.release();
      }
    } catch (e) {
      throw pgError(e, target, `${doing.replace(/^this one was /, "")} collection "${name}" on`);
    }
  }

  async commit(change: CollectionChange, options: CommitOptions = {}): Promise<CollectionManifest> {
    // the state moves only once the transaction has committed
    this.#state = await this.#locked(
      options.lock,
      "this one was writing",
      async (client) => {
        if (!options.rebase) return this.#commitLocked(client, change, options);
        const { change: rebased, skipped } = rebaseChange(this.manifest, change);
        options.onSkipped?.(skipped);
        // everything it brings is stored already (by another writer): no new revision
        if (this.manifest.revision > 0 && isEmptyChange(rebased)) return this.#state;
        return this.#commitLocked(client, rebased, options);
      },
      options.rebase === true,
    );
    return this.#state.manifest;
  }

  async #commitLocked(client: pg.ClientBase, change: CollectionChange, options: CommitOptions): Promise<PgState> {
    const before = this.manifest;
    const { schema } = this.#ctx.target;
    throwIfAborted(options.signal, "ingest");
    let id = this.#state.id;
    if (before.revision === 0) {
      const made = await client.query<{ id: string }>(
        "INSERT INTO collections (name, revision, dimension, manifest) VALUES ($1, 0, $2, $3) RETURNING id",
        [before.name, before.embedder.dimension, before],
      );
      id = made.rows[0]!.id;
      await createTables(client, schema, id, before.embedder.dimension);
    }
    const t = tablesOf(schema, id!);
    const rev = before.revision + 1;
    let { docs, totalLen } = await this.#previousStats(client, id!, before.revision);
    if (change.removeUnits.length > 0) {
      const removed = await client.query<{ n: string; len: string }>(
        `WITH r AS (UPDATE ${t.chunks} SET rev_removed = $2 WHERE unit_key = ANY($1::text[]) AND rev_removed IS NULL
           RETURNING doc_len)
         SELECT count(*) AS n, coalesce(sum(doc_len), 0) AS len FROM r`,
        [[...new Set(change.removeUnits)], rev],
      );
      docs -= Number(removed.rows[0]!.n);
      totalLen -= Number(removed.rows[0]!.len);
    }
    const analyzer = ftsAnalyzer(before.fts);
    for (let i = 0; i < change.add.length; i += INSERT_BATCH) {
      throwIfAborted(options.signal, "ingest");
      const added = await insertChunks(client, t, change.add.slice(i, i + INSERT_BATCH), rev, analyzer);
      docs += added.docs;
      totalLen += added.totalLen;
      options.onStored?.(Math.min(change.add.length, i + INSERT_BATCH));
    }
    throwIfAborted(options.signal, "ingest");
    await ensureHnsw(client, schema, id!, docs, this.#ctx.hnswMinRows);
    throwIfAborted(options.signal, "ingest");
    await client.query("INSERT INTO revisions (collection_id, revision, docs, total_len) VALUES ($1, $2, $3, $4)", [
      id,
      rev,
      docs,
      totalLen,
    ]);
    const manifest = committedManifest(before, change, docs);
    await client.query("UPDATE collections SET revision = $2, manifest = $3 WHERE id = $1", [id, rev, manifest]);
    throwIfAborted(options.signal, "ingest");
    return { id, manifest };
  }

  async #previousStats(client: pg.ClientBase, id: string, revision: number) {
    if (revision === 0) return { docs: 0, totalLen: 0 };
    const r = await client.query<{ docs: string; total_len: string }>(
      "SELECT docs, total_len FROM revisions WHERE collection_id = $1 AND revision = $2",
      [id, revision],
    );
    const row = r.rows[0];
    return { docs: Number(row?.docs ?? this.manifest.chunks), totalLen: Number(row?.total_len ?? 0) };
  }

  /** Drops row versions no reader of the committed revision sees, then lets Postgres reclaim them. */
  async compact(): Promise<CompactReport> {
    const name = this.manifest.name;
    const t = this.#tables;
    const report = { collection: name, versionsRemoved: 0, bytesRemoved: 0, fragmentsRemoved: 0, fragmentsAdded: 0 };
    if (!t) return report;
    const size = async () =>
      Number(
        (
          await this.#query<{ n: string }>(
            "measure",
            "SELECT pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS n",
            [t.chunks, t.postings],
          )
        )[0]?.n ?? 0,
      );
    const before = await size();
    report.versionsRemoved = await this.#locked(undefined, "compacting", async (client) => {
      const rev = this.manifest.revision;
      await client.query(
        `DELETE FROM ${t.postings} p USING ${t.chunks} c WHERE p.row_id = c.row_id AND c.rev_removed <= $1`,
        [rev],
      );
      await client.query(`DELETE FROM ${t.chunks} WHERE rev_removed <= $1`, [rev]);
      const old = await client.query("DELETE FROM revisions WHERE collection_id = $1 AND revision < $2", [
        this.#state.id,
        rev,
      ]);
      return old.rowCount ?? 0;
    });
    // outside any transaction: VACUUM cannot run in one
    await this.#query("compact", `VACUUM (ANALYZE) ${t.chunks}, ${t.postings}`, []);
    report.bytesRemoved = Math.max(0, before - (await size()));
    return report;
  }

  /** Nothing to release: connections belong to the provider's pool. */
  close(): void {}
}
