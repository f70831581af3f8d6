// Chunk rows of a Postgres collection: vectors as pgvector text, rows back to chunks, and the
// batched insert of chunks with their BM25 postings (one statement each, arrays unnested).
import type pg from "pg";
import type { Chunk, MetadataValue } from "../../types.js";
import { chunkFromRow } from "../chunk-row.js";
import { metadataTokens } from "../filter.js";
import type { StoredChunk } from "../types.js";
import type { FtsAnalyzer } from "./bm25.js";
import type { CollectionTables } from "./tables.js";

export const toVector = (v: Float32Array) => `[${Array.from(v).join(",")}]`;
export const fromVector = (s: string) => Float32Array.from(s.slice(1, -1).split(","), Number);

export function fromRow(r: Record<string, unknown>): Chunk {
  return chunkFromRow(
    r,
    r["chunk_id"],
    (r["heading"] ?? []) as string[],
    (r["metadata"] ?? {}) as Record<string, MetadataValue>,
  );
}

/** Inserts chunks (a live duplicate of a unit's chunk id is skipped) with their postings. */
export async function insertChunks(
  client: pg.ClientBase,
  t: CollectionTables,
  chunks: StoredChunk[],
  rev: number,
  analyzer: FtsAnalyzer,
): Promise<{ docs: number; totalLen: number }> {
  const ids = await client.query<{ id: string }>(
    `SELECT nextval(pg_get_serial_sequence($1, 'row_id')) AS id FROM generate_series(1, $2)`,
    [t.chunks, chunks.length],
  );
  const rowIds = ids.rows.map((r) => r.id);
  const counts = chunks.map((c) => analyzer.counts(c.text));
  const inserted = await client.query<{ row_id: string }>(
    `INSERT INTO ${t.chunks} (row_id, unit_key, chunk_id, text, source, page, heading, char_start, char_end,
       metadata, meta_kv, text_hash, doc_len, embedding, rev_added)
     SELECT u.row_id, u.unit_key, u.chunk_id, u.text, u.source, u.page,
       ARRAY(SELECT jsonb_array_elements_text(u.heading)), u.char_start, u.char_end, u.metadata,
       ARRAY(SELECT jsonb_array_elements_text(u.meta_kv)), u.text_hash, u.doc_len, u.embedding::vector, $15
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::jsonb[],
       $8::integer[], $9::integer[], $10::jsonb[], $11::jsonb[], $12::text[], $13::integer[], $14::text[])
       AS u(row_id, unit_key, chunk_id, text, source, page, heading, char_start, char_end, metadata, meta_kv,
         text_hash, doc_len, embedding)
     ON CONFLICT (unit_key, chunk_id) WHERE rev_removed IS NULL DO NOTHING
     RETURNING row_id`,
    [
      rowIds,
      chunks.map((c) => c.unitKey),
      chunks.map((c) => c.id),
      chunks.map((c) => c.text),
      chunks.map((c) => c.source),
      chunks.map((c) => c.page ?? null),
      chunks.map((c) => JSON.stringify(c.headingPath ?? [])),
      chunks.map((c) => c.start),
      chunks.map((c) => c.end),
      chunks.map((c) => JSON.stringify(c.metadata)),
      chunks.map((c) => JSON.stringify(metadataTokens(c.metadata))),
      chunks.map((c) => c.textHash),
      counts.map((c) => c.length),
      chunks.map((c) => toVector(c.vector)),
      rev,
    ],
  );
  const kept = new Set(inserted.rows.map((r) => r.row_id));
  const terms: string[] = [];
  const postingRows: string[] = [];
  const tfs: number[] = [];
  let docs = 0;
  let totalLen = 0;
  rowIds.forEach((rowId, i) => {
    if (!kept.has(rowId)) return;
    docs++;
    totalLen += counts[i]!.length;
    for (const [term, tf] of counts[i]!.terms) {
      terms.push(term);
      postingRows.push(rowId);
      tfs.push(tf);
    }
  });
  if (terms.length > 0) {
    await client.query(
      `INSERT INTO ${t.postings} (term, row_id, tf) SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[])`,
      [terms, postingRows, tfs],
    );
  }
  return { docs, totalLen };
}
