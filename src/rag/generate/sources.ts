// How retrieved passages are numbered and cited: "[1] guide.pdf p.3 › Setup › Install".
// The numbering here is the one the prompt shows the model and the answer lists: passage n is
// hits[n - 1], also when only some of them are cited.
import type { Hit } from "../types.js";

export interface CitedSource {
  n: number;
  source: string;
  page: number | null;
  heading: string | null;
  /** The row of a CSV/JSON/JSONL record (1-based), as the text output shows it; null otherwise. */
  row: number | null;
  /** The record's id (its id column, or an ingested record's id); null otherwise. */
  doc_id: string | null;
  chunk_id: string;
  score: number;
  retriever: string;
  /** The passage itself, as given to the model (or quoted). */
  text: string;
}

function docId(hit: Hit): string | null {
  const id = hit.chunk.metadata["doc_id"];
  return typeof id === "string" || typeof id === "number" ? String(id) : null;
}

/** Where a chunk comes from, for people: file, page and heading path. */
export function describeChunk(hit: Hit): string {
  const c = hit.chunk;
  const id = docId(hit);
  const doc = id !== null ? ` ${id}` : "";
  const row = c.metadata["row"] !== undefined && !doc ? ` row ${String(c.metadata["row"])}` : "";
  const page = c.page !== undefined ? ` p.${c.page}` : "";
  const heading = c.headingPath && c.headingPath.length > 0 ? ` › ${c.headingPath.join(" › ")}` : "";
  return `${c.source}${doc}${row}${page}${heading}`;
}

/** The passages numbered `numbers` (default: all), each with its number in the prompt. */
export function citedSources(hits: Hit[], numbers: readonly number[] = hits.map((_, i) => i + 1)): CitedSource[] {
  return numbered(hits, numbers).map(({ n, hit: h }) => ({
    n,
    source: h.chunk.source,
    page: h.chunk.page ?? null,
    heading: h.chunk.headingPath?.join(" › ") ?? null,
    row: typeof h.chunk.metadata["row"] === "number" ? h.chunk.metadata["row"] : null,
    doc_id: docId(h),
    chunk_id: h.chunk.id,
    score: h.score,
    retriever: h.retriever,
    text: h.chunk.text,
  }));
}

/** The sources block printed under an answer: one line per passage numbered `numbers` (default: all). */
export function renderSources(hits: Hit[], numbers: readonly number[] = hits.map((_, i) => i + 1)): string {
  return (
    numbered(hits, numbers)
      // one line per source, whatever a file name or heading holds
      .map(({ n, hit }) => `[${n}] ${describeChunk(hit).replace(/[\r\n\u2028\u2029]+/g, " ")}`)
      .join("\n")
  );
}

function numbered(hits: Hit[], numbers: readonly number[]): { n: number; hit: Hit }[] {
  return numbers.flatMap((n) => {
    const hit = hits[n - 1];
    return hit ? [{ n, hit }] : [];
  });
}
