// How retrieved passages are numbered and cited: "[1] guide.pdf p.3 › Setup › Install".
// The numbering here is the one the prompt shows the model and the answer lists.
import type { Hit } from "../types.js";

export interface CitedSource {
  n: number;
  source: string;
  page: number | null;
  heading: string | null;
  chunk_id: string;
  score: number;
  retriever: string;
}

/** Where a chunk comes from, for people: file, page and heading path. */
export function describeChunk(hit: Hit): string {
  const c = hit.chunk;
  const doc =
    typeof c.metadata["doc_id"] === "string" || typeof c.metadata["doc_id"] === "number"
      ? ` ${String(c.metadata["doc_id"])}`
      : "";
  const row = c.metadata["row"] !== undefined && !doc ? ` row ${String(c.metadata["row"])}` : "";
  const page = c.page !== undefined ? ` p.${c.page}` : "";
  const heading = c.headingPath && c.headingPath.length > 0 ? ` › ${c.headingPath.join(" › ")}` : "";
  return `${c.source}${doc}${row}${page}${heading}`;
}

export function citedSources(hits: Hit[]): CitedSource[] {
  return hits.map((h, i) => ({
    n: i + 1,
    source: h.chunk.source,
    page: h.chunk.page ?? null,
    heading: h.chunk.headingPath?.join(" › ") ?? null,
    chunk_id: h.chunk.id,
    score: h.score,
    retriever: h.retriever,
  }));
}

/** The sources block printed under an answer: one line per passage. */
export function renderSources(hits: Hit[]): string {
  return hits.map((h, i) => `[${i + 1}] ${describeChunk(h)}`).join("\n");
}
