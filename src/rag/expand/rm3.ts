// RM3 pseudo-relevance feedback (Lavrenko & Croft's relevance model, as Anserini runs it): the top
// fbDocs hits of a first pass vote for terms, weighted by their score; the fbTerms best terms are
// mixed with the original query and searched again. Needs no LLM. Leaves out RM1/RM2 variants.
import type { Hit, RetrieveOptions, Retriever } from "../types.js";
import { englishAnalyzer, type Analyzer } from "./analyzer.js";
import type { TermStatistics } from "./term-stats.js";

/** A query term with its weight; `text` is the word sent to the retriever. */
export interface WeightedTerm {
  term: string;
  text: string;
  weight: number;
}

export interface Rm3Options {
  /** Feedback documents; default 10 (Anserini/Pyserini). */
  fbDocs?: number;
  /** Expansion terms kept per document and in the model; default 10. */
  fbTerms?: number;
  /** Weight of the original query in the mix; default 0.5. */
  originalQueryWeight?: number;
  analyzer?: Analyzer;
  /** Collection statistics: terms in more than `maxDfRatio` of documents are not feedback terms. */
  stats?: TermStatistics;
  /** Default 0.1, Anserini's threshold. */
  maxDfRatio?: number;
  /** How many query words the weights are spread over (BM25 sums repeated words); default 100. */
  repeatBudget?: number;
}

export class Rm3Retriever implements Retriever {
  readonly name: string;
  /** The expanded query of the last call (empty when feedback found no terms). */
  lastTerms: WeightedTerm[] = [];

  constructor(
    private readonly base: Retriever,
    private readonly options: Rm3Options = {},
  ) {
    this.name = `${base.name}+rm3`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const first = await this.base.retrieve(query, { ...options, topK: Math.max(this.options.fbDocs ?? 10, 1) });
    const terms = rm3Expand(query, first, this.options);
    this.lastTerms = terms;
    if (terms.length === 0) return this.base.retrieve(query, options);
    // LanceDB's BM25 sums repeated query words, so repetition is a per-term boost (measured equal)
    const hits = await this.base.retrieve(repeatedQuery(terms, this.options.repeatBudget ?? 100), options);
    return hits.map((h) => ({ ...h, retriever: this.name }));
  }
}

/** The expanded query: original terms and feedback terms, weights summing to 1, heaviest first. */
export function rm3Expand(query: string, feedback: Hit[], options: Rm3Options = {}): WeightedTerm[] {
  const fbTerms = options.fbTerms ?? 10;
  const alpha = options.originalQueryWeight ?? 0.5;
  const analyzer = options.analyzer ?? englishAnalyzer();
  const surfaces = new Map<string, Map<string, number>>();
  const queryVector = termVector(query, analyzer, surfaces, undefined);
  const model = new Map<string, number>();
  for (const hit of feedback.slice(0, options.fbDocs ?? 10)) {
    const doc = prune(termVector(hit.chunk.text, analyzer, surfaces, options), fbTerms);
    const norm = sum(doc.values());
    if (norm <= 0) continue;
    for (const [term, tf] of doc) model.set(term, (model.get(term) ?? 0) + (tf / norm) * hit.score);
  }
  const relevance = normalize(prune(model, fbTerms));
  const mixed = new Map<string, number>();
  for (const [t, w] of normalize(queryVector)) mixed.set(t, alpha * w);
  for (const [t, w] of relevance) mixed.set(t, (mixed.get(t) ?? 0) + (1 - alpha) * w);
  return [...mixed]
    .filter(([, w]) => w > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([term, weight]) => ({ term, text: commonest(surfaces.get(term)) ?? term, weight }));
}

/**
 * Term frequencies of a text, recording each term's surface words. Feedback documents (`filter`
 * given) keep only Anserini's feedback terms: 2–20 characters of [a-z0-9], in at most maxDfRatio of the collection.
 */
function termVector(
  text: string,
  analyzer: Analyzer,
  surfaces: Map<string, Map<string, number>>,
  filter: Rm3Options | undefined,
): Map<string, number> {
  const tf = new Map<string, number>();
  const stats = filter?.stats;
  const maxDf = (filter?.maxDfRatio ?? 0.1) * (stats?.numDocs ?? 0);
  for (const { term, surface } of analyzer.analyze(text)) {
    if (filter) {
      if (term.length < 2 || term.length > 20 || !/^[a-z0-9]+$/.test(term)) continue;
      if (stats && stats.docFreq(term) > maxDf) continue;
    }
    tf.set(term, (tf.get(term) ?? 0) + 1);
    let forms = surfaces.get(term);
    if (!forms) surfaces.set(term, (forms = new Map()));
    forms.set(surface, (forms.get(surface) ?? 0) + 1);
  }
  return tf;
}

/** Spreads the weights over about `budget` words, each term at least once (BM25 sums repeated words). */
export function repeatedQuery(terms: WeightedTerm[], budget: number): string {
  const total = sum(terms.map((t) => t.weight));
  return terms
    .flatMap((t) => Array<string>(Math.max(1, Math.round((t.weight / total) * budget))).fill(t.text))
    .join(" ");
}

/** Keeps the `size` heaviest entries (ties by term, for a stable result). */
function prune(v: Map<string, number>, size: number): Map<string, number> {
  return new Map([...v].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, size));
}

function normalize(v: Map<string, number>): Map<string, number> {
  const total = sum(v.values());
  return total > 0 ? new Map([...v].map(([t, w]) => [t, w / total])) : new Map();
}

function sum(values: Iterable<number>): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

function commonest(forms: Map<string, number> | undefined): string | undefined {
  if (!forms) return undefined;
  return [...forms].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
}
