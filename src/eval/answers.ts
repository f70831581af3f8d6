// Answer metrics against reference answers: exact match and token F1 as the SQuAD evaluation
// script defines them (lowercase, no punctuation, no articles), ROUGE-L F1 (longest common
// subsequence of lowercase alphanumeric tokens), and cosine similarity of answer embeddings.
// Every metric takes the best over several references. Unanswerable questions (SQuAD v2) are scored
// as the official v2 script scores them, with abstentions counted as the empty answer: see scoreAnswer.
// Leaves out BLEU and METEOR.
import { cosine } from "../rag/multi/mmr.js";
import type { Embedder } from "../rag/types.js";

export { cosine };

/** SQuAD normalisation: lowercase, drop punctuation and the articles a/an/the, collapse spaces. */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, "")
    .replace(/\b(a|an|the)\b/g, " ")
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");
}

export function exactMatch(prediction: string, references: string[]): number {
  const p = normalizeAnswer(prediction);
  return references.some((r) => normalizeAnswer(r) === p) ? 1 : 0;
}

/** SQuAD token F1: overlap of normalised tokens counted with multiplicity; both empty → 1. */
export function tokenF1(prediction: string, references: string[]): number {
  const pred = tokens(normalizeAnswer(prediction));
  return Math.max(0, ...references.map((r) => f1(pred, tokens(normalizeAnswer(r)))));
}

function tokens(s: string): string[] {
  return s ? s.split(" ") : [];
}

function f1(pred: string[], ref: string[]): number {
  if (pred.length === 0 || ref.length === 0) return pred.length === ref.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of ref) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of pred) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / pred.length;
  const recall = common / ref.length;
  return (2 * precision * recall) / (precision + recall);
}

/** ROUGE-L F1 as the rouge-score package computes it (no stemming). */
export function rougeL(prediction: string, references: string[]): number {
  const pred = rougeTokens(prediction);
  return Math.max(
    0,
    ...references.map((r) => {
      const ref = rougeTokens(r);
      if (pred.length === 0 || ref.length === 0) return 0;
      const lcs = lcsLength(pred, ref);
      if (lcs === 0) return 0;
      const p = lcs / pred.length;
      const rec = lcs / ref.length;
      return (2 * p * rec) / (p + rec);
    }),
  );
}

function rougeTokens(s: string): string[] {
  return s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Length of the longest common subsequence, O(n·m) time, O(m) memory. */
export function lcsLength(a: string[], b: string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) {
      row[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Best cosine similarity of each prediction's embedding to its references' embeddings. */
export async function embeddingSimilarity(
  embedder: Embedder,
  pairs: { prediction: string; references: string[] }[],
  options: { signal?: AbortSignal } = {},
): Promise<number[]> {
  const texts = pairs.flatMap((p) => [p.prediction, ...p.references]);
  const vectors = await embedder.embedPassages(texts, options.signal ? { signal: options.signal } : {});
  let at = 0;
  return pairs.map((p) => {
    const pred = vectors[at++]!;
    let best = 0;
    for (let i = 0; i < p.references.length; i++) best = Math.max(best, cosine(pred, vectors[at++]!));
    return best;
  });
}

/**
 * Phrases a model abstains with. The SQuAD v2 script accepts only the empty string; a chat model told
 * "say that you do not know" says it in words, so those count as the empty answer too.
 */
const ABSTENTION =
  /\b(i (do not|don't|cannot|can't) (know|tell|say|answer|find)|(do|does) not (say|mention|contain|state|specify|provide)|(doesn't|don't) (say|mention|contain|state|specify|provide)|(not|never) (mentioned|stated|given|specified|provided|found|known)|no (answer|information|mention)|cannot be (answered|determined)|can't be (answered|determined)|unanswerable|unknown|not enough information)\b/;

/** True when a prediction is empty or says it does not know (an abstention). */
export function isAbstention(prediction: string): boolean {
  const p = normalizeAnswer(prediction.replace(/’/g, "'"));
  return p.length === 0 || ABSTENTION.test(prediction.toLowerCase().replace(/’/g, "'"));
}

export interface AnswerScores {
  exact_match: number;
  f1: number;
  rouge_l: number;
  /** Whether the prediction abstains (empty, or "I do not know" and the like). */
  abstained: boolean;
}

/**
 * Exact match, F1 and ROUGE-L against the references. With no reference (an unanswerable question)
 * every metric is 1 when the prediction abstains and 0 otherwise, the SQuAD v2 rule (EM = F1 = 1 iff
 * the prediction is empty) with abstention phrases counted as empty.
 */
export function scoreAnswer(prediction: string, references: string[]): AnswerScores {
  const abstained = isAbstention(prediction);
  const refs = references.filter((r) => normalizeAnswer(r).length > 0);
  if (refs.length === 0) {
    const v = abstained ? 1 : 0;
    return { exact_match: v, f1: v, rouge_l: v, abstained };
  }
  return {
    exact_match: exactMatch(prediction, refs),
    f1: tokenF1(prediction, refs),
    rouge_l: rougeL(prediction, refs),
    abstained,
  };
}

/** 1 when a non-empty reference, normalised, occurs in the normalised passages. */
export function answerInContext(references: string[], passages: string[]): number {
  const text = ` ${normalizeAnswer(passages.join(" "))} `;
  return references.some((r) => {
    const n = normalizeAnswer(r);
    return n.length > 0 && text.includes(` ${n} `);
  })
    ? 1
    : 0;
}
