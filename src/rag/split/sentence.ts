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

/** Sentence spans of `text[span]`, as Intl.Segmenter finds them. */
export function sentenceSpans(text: string, span: Span, locale = "en"): Span[] {
  const segmenter = new Intl.Segmenter(locale, { granularity: "sentence" });
  const out: Span[] = [];
  for (const s of segmenter.segment(text.slice(span.start, span.end))) {
    out.push({ start: span.start + s.index, end: span.start + s.index + s.segment.length });
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
