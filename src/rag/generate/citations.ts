// Checking an answer's citations against the passages its prompt gave: `[n]`, `[2][3]` and
// `[1, 3]` are citations; a number outside 1..given is invalid (a model inventing a source, or
// echoing a number a document wrote). Leaves out whether a cited passage supports the statement.

export interface CitationCheck {
  /** Valid passage numbers the answer cites, ascending, each once. */
  cited: number[];
  /** Numbers the answer cites that no passage has, ascending, each once. */
  invalid: number[];
}

/**
 * A bracket holding one number, or a list of them (`[1, 3]`, `[1; 3]`), of at most three digits:
 * no prompt gives a thousand passages, and `[2024]` in an answer is a year, not a citation.
 */
const CITATION = /\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]/g;

/** The citations in `answer`, checked against `given` passages numbered 1..given. */
export function checkCitations(answer: string, given: number): CitationCheck {
  const cited = new Set<number>();
  const invalid = new Set<number>();
  for (const match of answer.matchAll(CITATION)) {
    for (const part of match[1]!.split(/[,;]/)) {
      const n = Number(part.trim());
      (n >= 1 && n <= given ? cited : invalid).add(n);
    }
  }
  const ascending = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { cited: ascending(cited), invalid: ascending(invalid) };
}
