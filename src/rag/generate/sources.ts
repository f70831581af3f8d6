// How retrieved passages are numbered and cited: "[1] guide.pdf p.3 › Setup › Install".
// The numbering here is the one the prompt shows the model and the answer lists: passage n is
// hits[n - 1], also when only some of them are cited.
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

/** The passages numbered `numbers` (default: all), each with its number in the prompt. */
export function citedSources(hits: Hit[], numbers: readonly number[] = hits.map((_, i) => i + 1)): CitedSource[] {
  return numbered(hits, numbers).map(({ n, hit: h }) => ({
    n,
    source: h.chunk.source,
    page: h.chunk.page ?? null,
    heading: h.chunk.headingPath?.join(" › ") ?? null,
    chunk_id: h.chunk.id,
    score: h.score,
    retriever: h.retriever,
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
