// Recursive splitting: cut at the coarsest separator present (paragraph, line, sentence end,
// space, then characters), recurse into pieces still too long, then pack with overlap.
// Length is pluggable (characters or tokens); offsets always stay exact character offsets.
import type { MeasuredSpan, Span } from "./chunk.js";
import { mergePieces } from "./chunk.js";

export const DEFAULT_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""];

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

/** Contiguous pieces covering the span, each at most `size` long where a separator allows. */
function pieceSpans(
  text: string,
  span: Span,
  separators: string[],
  size: number,
  length: LengthFunction,
): MeasuredSpan[] {
  const whole = text.slice(span.start, span.end);
  const wholeLength = length(whole);
  if (wholeLength <= size) return [{ ...span, length: wholeLength }];
  const index = separators.findIndex((s) => s === "" || whole.includes(s));
  const separator = separators[index] ?? "";
  if (separator === "") return hardCut(text, span, size, length);
  const rest = separators.slice(index + 1);
  const out: MeasuredSpan[] = [];
  let from = span.start;
  while (from < span.end) {
    const at = text.indexOf(separator, from);
    // the separator stays at the end of the piece before it, so pieces stay contiguous
    const to = at === -1 || at + separator.length > span.end ? span.end : at + separator.length;
    const piece = { start: from, end: to };
    const pieceLength = length(text.slice(from, to));
    if (pieceLength <= size) out.push({ ...piece, length: pieceLength });
    else out.push(...pieceSpans(text, piece, rest, size, length));
    from = to;
  }
  return out;
}

/** Last resort: fixed windows of characters, shrunk until each fits `size`. */
function hardCut(text: string, span: Span, size: number, length: LengthFunction): MeasuredSpan[] {
  const out: MeasuredSpan[] = [];
  let from = span.start;
  while (from < span.end) {
    let to = Math.min(span.end, from + Math.max(1, size));
    let l = length(text.slice(from, to));
    while (l > size && to - from > 1) {
      to = from + Math.max(1, Math.floor((to - from) / 2));
      l = length(text.slice(from, to));
    }
    out.push({ start: from, end: to, length: l });
    from = to;
  }
  return out;
}
