// The answer when no language model is configured or reachable: the best sentences of the best
// passages, each cited. It quotes, it does not reason: say so to the user (mode "extractive").
import type { Hit } from "../types.js";
import { sentenceSpans } from "../split/sentence.js";

const STOP = new Set(
  "a an and are as at be by can do does for from has have how i in is it its me my of on or our should so that the their them there these they this to was we what when where which who why will with you your".split(
    " ",
  ),
);

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

/** The extractive answer and the passages it quotes (known here, not parsed back from the text). */
export function extractAnswer(question: string, hits: Hit[], options: ExtractiveOptions = {}): ExtractiveAnswer {
  const wanted = new Set(terms(question));
  const lines: string[] = [];
  const cited: number[] = [];
  hits.slice(0, options.maxPassages ?? 3).forEach((hit, i) => {
    // headings out; single line breaks (PDF lines, wrapped Markdown) are not sentence ends
    const text = hit.chunk.text
      .replace(/^#{1,6}[ \t].*$/gm, "")
      .replace(/([^\n])\n(?!\n)/g, "$1 ")
      .trim();
    const sentences = sentenceSpans(text, { start: 0, end: text.length })
      .map((s, index) => {
        const sentence = text.slice(s.start, s.end).replace(/\s+/g, " ").trim();
        const score = new Set(terms(sentence).filter((t) => wanted.has(t))).size;
        return { sentence, score, index };
      })
      .filter((s) => s.sentence.length > 0);
    const top = Math.max(0, ...sentences.map((s) => s.score));
    // the first passage is always quoted; later ones only where they share terms with the question
    if (top === 0 && i > 0) return;
    const best = [...sentences]
      .filter((s) => s.score >= Math.max(1, top / 2) || top === 0)
      .sort((a, b) => b.score - a.score || a.index - b.index)
      .slice(0, options.sentencesPerPassage ?? 2)
      .sort((a, b) => a.index - b.index)
      .map((s) => s.sentence);
    if (best.length === 0) return;
    lines.push(`${best.join(" ")} [${i + 1}]`);
    cited.push(i + 1);
  });
  return {
    answer: lines.length > 0 ? lines.join("\n") : "No passage in the collection matches the question.",
    cited,
  };
}
