// The answer when no language model is configured: the best sentences of the passages that bear
// on the question, each cited, as plain text. It quotes, it does not reason: say so to the user
// (mode "extractive").
import type { Hit } from "../types.js";
import { sentenceSpans } from "../split/sentence.js";
import { plainParagraphs } from "./plain-text.js";

const STOP = new Set(
  "a about an and are as at be by can could do does for from has have how i in is it its many may me might much must my of on or our shall should so that the their them there these they this to was we what when where which who why will with would you your".split(
    " ",
  ),
);

/** The words of `text` that carry content (lowercased, stop words out), in order, each once. */
export function contentWords(text: string): string[] {
  return [...new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOP.has(w)))];
}

/** Content words, crudely stemmed (common English suffixes off, then the first five letters). */
function terms(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])
    .filter((w) => !STOP.has(w))
    .map((w) => (w.length > 4 ? w.replace(/(ing|ed|es|s|ly)$/, "") : w).slice(0, 5));
}

export interface ExtractiveOptions {
  /** Passages quoted; default 3. */
  maxPassages?: number;
  /** Sentences quoted per passage; default 2. */
  sentencesPerPassage?: number;
}

export interface ExtractiveAnswer {
  answer: string;
  /** The passages quoted, by their number (1-based position in the hits), ascending. */
  cited: number[];
}

/** Picks, from each top passage, the sentences sharing most terms with the question (in text order). */
export function extractiveAnswer(question: string, hits: Hit[], options: ExtractiveOptions = {}): string {
  return extractAnswer(question, hits, options).answer;
}

/** A row read as `column: value` lines (tabular loaders): quoted whole, as one line. */
const RECORD_LINE = /^[^:\n]{1,64}: \S/;

/** The sentences of a passage in text order; a record is one "sentence" of `column: value` pairs. */
function sentencesOf(hit: Hit): string[] {
  const text = hit.chunk.text.trim();
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (hit.chunk.metadata["row"] !== undefined && lines.length > 0 && lines.every((l) => RECORD_LINE.test(l)))
    return [lines.map((l) => l.trim()).join("; ")];
  // Markdown marks, headings and table pipes off; each paragraph, list item or row split apart
  return plainParagraphs(text)
    .flatMap((paragraph) =>
      sentenceSpans(paragraph, { start: 0, end: paragraph.length }).map((s) =>
        paragraph.slice(s.start, s.end).replace(/\s+/g, " ").trim(),
      ),
    )
    .filter((sentence) => sentence.length > 0);
}

interface Scored {
  sentence: string;
  /** Question terms the sentence shares. */
  score: number;
  /** A question line (a FAQ's): it restates what was asked; its answer follows it. */
  question: boolean;
  index: number;
}

/** The extractive answer and the passages it quotes (known here, not parsed back from the text). */
export function extractAnswer(question: string, hits: Hit[], options: ExtractiveOptions = {}): ExtractiveAnswer {
  const wanted = new Set(terms(question));
  const shared = (words: string[]) => new Set(words.filter((t) => wanted.has(t)));
  const passages = hits.slice(0, options.maxPassages ?? 3).map((hit) => {
    const sentences: Scored[] = sentencesOf(hit).map((sentence, index) => ({
      sentence,
      score: shared(terms(sentence)).size,
      question: sentence.endsWith("?"),
      index,
    }));
    // what the passage bears on: the question terms of its sentences and its section's heading
    const heading = terms(hit.chunk.headingPath?.at(-1) ?? "");
    const covers = shared([...sentences.flatMap((s) => terms(s.sentence)), ...heading]);
    const relevance = Math.max(0, ...sentences.map((s) => shared([...terms(s.sentence), ...heading]).size));
    return { sentences, relevance, covers };
  });
  const best = Math.max(0, ...passages.map((p) => p.relevance));
  // No padding. A passage is quoted when it shares at least three quarters as many question terms
  // as the best one, or at least half as many and a question term no quoted passage covers (the
  // other half of "when are roses pruned and when does the fuel dock open"); a passage that only
  // repeats a term already answered ("password" in a Wi-Fi answer) is not. When nothing shares a
  // term, the first passage (the retriever's best) is quoted alone, from its start.
  const needed = Math.ceil((best * 3) / 4);
  const quoted = passages.map((p, i) => (best === 0 ? i === 0 : p.relevance >= needed));
  const covered = new Set(passages.flatMap((p, i) => (quoted[i] ? [...p.covers] : [])));
  passages.forEach((p, i) => {
    if (quoted[i] || best === 0 || p.relevance < best / 2 || ![...p.covers].some((t) => !covered.has(t))) return;
    quoted[i] = true;
    for (const t of p.covers) covered.add(t);
  });
  const lines: string[] = [];
  const cited: number[] = [];
  passages.forEach(({ sentences }, i) => {
    if (!quoted[i]) return;
    const chosen = choose(sentences, options.sentencesPerPassage ?? 2);
    if (chosen.length === 0) return;
    lines.push(`${chosen.join(" ")} [${i + 1}]`);
    cited.push(i + 1);
  });
  return {
    answer: lines.length > 0 ? lines.join("\n") : "No passage in the collection matches the question.",
    cited,
  };
}

/**
 * The sentences quoted from one passage, in text order. Under a matching question line (a FAQ)
 * its answer: the statements up to the next question. Otherwise the statements that share at
 * least three quarters as many question terms as the passage's best, at most `max`; none sharing any:
 * the passage's first statements.
 */
function choose(sentences: Scored[], max: number): string[] {
  const top = Math.max(0, ...sentences.map((s) => s.score));
  const asked = sentences.filter((s) => s.question && top > 0 && s.score === top)[0];
  if (asked) {
    const next = sentences.find((s) => s.question && s.index > asked.index)?.index ?? Infinity;
    const answer = sentences.filter((s) => !s.question && s.index > asked.index && s.index < next);
    if (answer.length > 0) return answer.slice(0, max).map((s) => s.sentence);
  }
  const statements = sentences.filter((s) => !s.question);
  const pool = statements.length > 0 ? statements : sentences;
  const floor = Math.max(1, Math.ceil((top * 3) / 4));
  const matching = pool.filter((s) => s.score >= floor);
  return (matching.length > 0 ? matching : pool)
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, max)
    .sort((a, b) => a.index - b.index)
    .map((s) => s.sentence);
}
