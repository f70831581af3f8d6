// Turning spans of a loaded document into citable chunks, and the merge step every splitter
// shares (pack small pieces up to a size, carry an overlap). No splitting rules live here.
import { createHash } from "node:crypto";
import type { Chunk, LoadedDocument } from "../types.js";

/** A half-open character range [start, end) of a document's text. */
export interface Span {
  start: number;
  end: number;
}

/** Stable chunk id from where the chunk comes from: same file, page, row and offsets → same id. */
export function chunkId(doc: LoadedDocument, start: number, end: number): string {
  const key = [doc.source, doc.page ?? "", doc.metadata["row"] ?? "", doc.metadata["doc_id"] ?? "", start, end].join(
    "\u0000",
  );
  return createHash("sha256").update(key).digest("hex").slice(0, 24);
}

/** A chunk for `span` of `doc`, with surrounding whitespace trimmed (offsets follow); undefined if blank. */
export function makeChunk(doc: LoadedDocument, span: Span, headingPath?: string[]): Chunk | undefined {
  let { start, end } = span;
  const t = doc.text;
  while (start < end && /\s/.test(t[start]!)) start++;
  while (end > start && /\s/.test(t[end - 1]!)) end--;
  if (start >= end) return undefined;
  return {
    id: chunkId(doc, start, end),
    text: t.slice(start, end),
    source: doc.source,
    ...(doc.page === undefined ? {} : { page: doc.page }),
    ...(headingPath && headingPath.length > 0 ? { headingPath } : {}),
    start,
    end,
    metadata: { ...doc.metadata },
  };
}

/** A piece with its measured length (characters or tokens). */
export interface MeasuredSpan extends Span {
  length: number;
}

/**
 * Packs contiguous pieces into spans of at most `size` (by the pieces' lengths); each new span
 * starts with the trailing pieces of the previous one, up to `overlap`.
 */
export function mergePieces(pieces: Iterable<MeasuredSpan>, size: number, overlap: number): Span[] {
  const out: Span[] = [];
  const current: MeasuredSpan[] = [];
  let length = 0;
  const emit = () => {
    if (current.length > 0) out.push({ start: current[0]!.start, end: current[current.length - 1]!.end });
  };
  for (const piece of pieces) {
    if (current.length > 0 && length + piece.length > size) {
      emit();
      while (current.length > 0 && (length > overlap || length + piece.length > size)) {
        length -= current.shift()!.length;
      }
    }
    current.push(piece);
    length += piece.length;
  }
  emit();
  return out;
}
