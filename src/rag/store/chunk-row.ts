// A stored row as a Chunk, the same for every store: each store decodes its own encodings of the
// id, heading path and metadata (JSON text in LanceDB, native columns in Postgres) and hands them here.
import type { Chunk, MetadataValue } from "../types.js";

export function chunkFromRow(
  r: Record<string, unknown>,
  id: unknown,
  heading: readonly string[],
  metadata: Record<string, MetadataValue>,
): Chunk {
  const page = r["page"];
  return {
    id: String(id),
    text: String(r["text"]),
    source: String(r["source"]),
    ...(page === null || page === undefined ? {} : { page: Number(page) }),
    ...(heading.length > 0 ? { headingPath: [...heading] } : {}),
    start: Number(r["char_start"]),
    end: Number(r["char_end"]),
    metadata,
  };
}
