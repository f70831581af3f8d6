// A collection's own tables, made in its first commit's transaction (so an aborted first commit
// leaves nothing): `chunks_<id>` (one row per chunk version, its vector in a vector(dim) column
// with an HNSW index past a size) and `postings_<id>` (term → chunk with the term's frequency, for BM25).
// A table per collection, not one table with a collection column: each collection has its own
// vector dimension (an HNSW index needs one typed column) and its own index, so a search never
// wades through other collections' rows, and deleting a collection is a DROP.
import type pg from "pg";

/** Rows are versioned: visible at revision R when rev_added <= R and not removed at or before R. */
export const VISIBLE = (alias: string, rev: string) =>
  `${alias}.rev_added <= ${rev} AND (${alias}.rev_removed IS NULL OR ${alias}.rev_removed > ${rev})`;

export interface CollectionTables {
  chunks: string;
  postings: string;
}

export function tablesOf(schema: string, id: string): CollectionTables {
  if (!/^[0-9]+$/.test(id)) throw new Error(`bad collection id ${id}`);
  return { chunks: `${schema}.chunks_${id}`, postings: `${schema}.postings_${id}` };
}

export async function createTables(client: pg.ClientBase, schema: string, id: string, dimension: number) {
  const t = tablesOf(schema, id);
  const dim = Math.trunc(dimension);
  await client.query(`CREATE TABLE ${t.chunks} (
    row_id bigserial PRIMARY KEY,
    unit_key text NOT NULL,
    chunk_id text NOT NULL,
    text text NOT NULL,
    source text NOT NULL,
    page integer,
    heading text[] NOT NULL,
    char_start integer NOT NULL,
    char_end integer NOT NULL,
    metadata jsonb NOT NULL,
    meta_kv text[] NOT NULL,
    text_hash text NOT NULL,
    doc_len integer NOT NULL,
    embedding vector(${dim}) NOT NULL,
    rev_added integer NOT NULL,
    rev_removed integer
  )`);
  // the key that keeps a chunk once: a unit's chunk id among the live rows (INSERT … ON CONFLICT)
  await client.query(
    `CREATE UNIQUE INDEX chunks_${id}_live ON ${t.chunks} (unit_key, chunk_id) WHERE rev_removed IS NULL`,
  );
  await client.query(`CREATE INDEX chunks_${id}_hash ON ${t.chunks} (text_hash)`);
  await client.query(`CREATE INDEX chunks_${id}_meta ON ${t.chunks} USING gin (meta_kv)`);
  await client.query(`CREATE TABLE ${t.postings} (
    term text NOT NULL,
    row_id bigint NOT NULL,
    tf integer NOT NULL,
    PRIMARY KEY (term, row_id)
  )`);
  await client.query(`CREATE INDEX postings_${id}_row ON ${t.postings} (row_id)`);
}

/**
 * The HNSW index (cosine) once the collection holds `minRows` chunks: below that an exact scan is
 * fast and building the graph row by row would cost every commit more than it saves. Built in
 * the commit's transaction (one bulk build, far cheaper than row-by-row inserts), so readers get
 * it with the revision that needed it. True if it exists now.
 */
export async function ensureHnsw(client: pg.ClientBase, schema: string, id: string, rows: number, minRows: number) {
  if (rows < minRows) return false;
  const t = tablesOf(schema, id);
  await client.query(
    `CREATE INDEX IF NOT EXISTS chunks_${id}_hnsw ON ${t.chunks} USING hnsw (embedding vector_cosine_ops)`,
  );
  return true;
}

export async function dropTables(client: pg.ClientBase, schema: string, id: string) {
  const t = tablesOf(schema, id);
  await client.query(`DROP TABLE IF EXISTS ${t.postings}, ${t.chunks}`);
}
