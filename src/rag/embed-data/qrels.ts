// Relevance judgments as training pairs: each judged query with its relevant documents as
// positives (source "qrels"), e.g. BEIR's train split. Reading the BEIR folder is eval/'s
// (`loadBeir(dir, {split: "train"})` returns exactly the shape taken here); this layer only pairs.
// Leaves out judged-irrelevant documents (grade 0) as negatives: mining finds harder ones.
import { InfuseError } from "../../core/errors.js";
import type { Pair } from "./pairs.js";
import { passageText, type Passage } from "./passages.js";

/** What `qrelPairs` reads: BEIR's corpus, queries and one split's judgments (query → doc → grade). */
export interface QrelData {
  corpus: Iterable<Passage>;
  queries: Iterable<{ id: string; text: string }>;
  qrels: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export interface QrelPairOptions {
  /** The least grade that makes a document a positive; default 1. */
  minGrade?: number;
}

export interface QrelPairsResult {
  pairs: Pair[];
  /** Judged queries left without a positive (every relevant document missing from the corpus, or none relevant). */
  withoutPositive: number;
  /** Relevant document ids the corpus does not hold. */
  missingDocs: string[];
}

/** One pair per judged query with at least one relevant document in the corpus, in query order. */
export function qrelPairs(data: QrelData, options: QrelPairOptions = {}): QrelPairsResult {
  const minGrade = options.minGrade ?? 1;
  const byId = new Map<string, Passage>();
  for (const p of data.corpus) byId.set(p.id, p);
  if (byId.size === 0)
    throw new InfuseError("embed.empty_corpus", "the corpus holds no documents", {
      kind: "input",
      hint: "check the BEIR folder's corpus.jsonl",
    });
  const pairs: Pair[] = [];
  const missing = new Set<string>();
  let withoutPositive = 0;
  for (const q of data.queries) {
    const judged = data.qrels.get(q.id);
    if (!judged) continue;
    const ids: string[] = [];
    for (const [doc, grade] of judged) {
      if (grade < minGrade) continue;
      if (byId.has(doc)) ids.push(doc);
      else missing.add(doc);
    }
    if (ids.length === 0) {
      withoutPositive++;
      continue;
    }
    pairs.push({ query: q.text, pos: ids.map((id) => passageText(byId.get(id)!)), source: "qrels", pos_ids: ids });
  }
  return { pairs, withoutPositive, missingDocs: [...missing] };
}
