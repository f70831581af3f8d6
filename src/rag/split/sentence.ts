// Sentence-aware splitting: sentences from Intl.Segmenter (ICU, many languages) packed into
// chunks; a sentence longer than a chunk falls back to recursive splitting. No abbreviation lists.
import type { MeasuredSpan, Span } from "./chunk.js";
import { mergePieces } from "./chunk.js";
import { characterLength, recursiveSpans, type LengthFunction } from "./recursive.js";

export interface SentenceOptions {
  chunkSize: number;
  overlap: number;
  length?: LengthFunction;
  locale?: string;
}

/**
 * Characters given to Intl.Segmenter at a time. V8 builds each segment's `input` from the whole
 * segmented string, so one pass over a long text costs time and garbage quadratic in its length.
 */
export const SEGMENT_WINDOW = 16 * 1024;

/**
 * Sentence spans of `text[span]`, as Intl.Segmenter finds them, segmented `window` characters at a
 * time: the last sentence of a window is segmented again with what follows it. A sentence longer
 * than a window is cut at the window's end.
 */
export function sentenceSpans(text: string, span: Span, locale = "en", window = SEGMENT_WINDOW): Span[] {
  const segmenter = new Intl.Segmenter(locale, { granularity: "sentence" });
  const out: Span[] = [];
  let from = span.start;
  while (from < span.end) {
    const to = Math.min(span.end, from + window);
    const found: Span[] = [];
    for (const s of segmenter.segment(text.slice(from, to))) {
      found.push({ start: from + s.index, end: from + s.index + s.segment.length });
    }
    // the window's last sentence may go on past it, unless the window reached the span's end
    const keep = to === span.end || found.length === 1 ? found.length : found.length - 1;
    for (let i = 0; i < keep; i++) out.push(found[i]!);
    from = found[keep - 1]?.end ?? to;
  }
  return out;
}

export function sentenceChunkSpans(text: string, span: Span, options: SentenceOptions): Span[] {
  const length = options.length ?? characterLength;
  const pieces: MeasuredSpan[] = [];
  for (const s of sentenceSpans(text, span, options.locale)) {
    const l = length(text.slice(s.start, s.end));
    if (l <= options.chunkSize) pieces.push({ ...s, length: l });
    else {
      for (const sub of recursiveSpans(text, s, { chunkSize: options.chunkSize, overlap: 0, length })) {
        pieces.push({ ...sub, length: length(text.slice(sub.start, sub.end)) });
      }
    }
  }
  return mergePieces(pieces, options.chunkSize, options.overlap);
}
