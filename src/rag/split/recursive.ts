// Recursive splitting: cut at the coarsest separator present (paragraph, line, sentence end,
// space, then characters), recurse into pieces still too long, then pack with overlap.
// Length is pluggable (characters or tokens); offsets always stay exact character offsets.
import type { MeasuredSpan, Span } from "./chunk.js";
import { mergePieces } from "./chunk.js";

export const DEFAULT_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""];

/** Characters per token no vocabulary reaches on average: a span longer than size × this is split unmeasured. */
const MAX_CHARS_PER_UNIT = 64;

export type LengthFunction = (text: string) => number;

export const characterLength: LengthFunction = (text) => text.length;

export interface RecursiveOptions {
  chunkSize: number;
  overlap: number;
  length?: LengthFunction;
  separators?: string[];
}

/** Splits `text[span]` into spans of at most `chunkSize` (by `length`), with overlap. */
export function recursiveSpans(text: string, span: Span, options: RecursiveOptions): Span[] {
  const length = options.length ?? characterLength;
  const pieces = pieceSpans(text, span, options.separators ?? DEFAULT_SEPARATORS, options.chunkSize, length);
  return mergePieces(pieces, options.chunkSize, options.overlap);
}

/** The length of text[from, to): characters are counted without copying the text. */
function measure(text: string, from: number, to: number, length: LengthFunction): number {
  return length === characterLength ? to - from : length(text.slice(from, to));
}

/**
 * Contiguous pieces covering the span, each at most `size` long where a separator allows; yielded
 * one at a time, so a long document's pieces are never all held (nor spread onto the stack).
 */
function* pieceSpans(
  text: string,
  span: Span,
  separators: string[],
  size: number,
  length: LengthFunction,
): Generator<MeasuredSpan> {
  // a span far longer than a chunk is not measured (a tokenizer would encode a whole book): it is split
  const chars = span.end - span.start;
  const measurable = length === characterLength || chars <= size * MAX_CHARS_PER_UNIT;
  const wholeLength = measurable ? measure(text, span.start, span.end, length) : Infinity;
  if (wholeLength <= size) {
    yield { ...span, length: wholeLength };
    return;
  }
  const index = separators.findIndex((s) => s === "" || includesIn(text, s, span));
  const separator = separators[index] ?? "";
  if (separator === "") {
    yield* hardCut(text, span, size, length);
    return;
  }
  const rest = separators.slice(index + 1);
  let from = span.start;
  while (from < span.end) {
    const at = text.indexOf(separator, from);
    // the separator stays at the end of the piece before it, so pieces stay contiguous
    const to = at === -1 || at + separator.length > span.end ? span.end : at + separator.length;
    const piece = { start: from, end: to };
    const pieceLength = to - from <= size * MAX_CHARS_PER_UNIT ? measure(text, from, to, length) : Infinity;
    if (pieceLength <= size) yield { ...piece, length: pieceLength };
    else yield* pieceSpans(text, piece, rest, size, length);
    from = to;
  }
}

/** Whether `separator` occurs inside text[span] (no copy of the span). */
function includesIn(text: string, separator: string, span: Span): boolean {
  const at = text.indexOf(separator, span.start);
  return at !== -1 && at + separator.length <= span.end;
}

/** Last resort: fixed windows of characters, shrunk until each fits `size`. */
function* hardCut(text: string, span: Span, size: number, length: LengthFunction): Generator<MeasuredSpan> {
  let from = span.start;
  while (from < span.end) {
    let to = Math.min(span.end, from + Math.max(1, size));
    // never between the two halves of a surrogate pair
    if (to < span.end && to - from > 1 && isHighSurrogate(text.charCodeAt(to - 1))) to--;
    let l = measure(text, from, to, length);
    while (l > size && to - from > 1) {
      to = from + Math.max(1, Math.floor((to - from) / 2));
      l = measure(text, from, to, length);
    }
    yield { start: from, end: to, length: l };
    from = to;
  }
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
