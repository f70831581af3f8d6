// Collection term statistics for pseudo-relevance feedback: the number of documents and each
// term's document frequency, built from the texts with the analyzer. Leaves out positions and
// collection term frequencies (RM3 needs neither).
import { throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import type { Analyzer } from "./analyzer.js";

export interface TermStatistics {
  readonly numDocs: number;
  docFreq(term: string): number;
}

/** Counts, for every analyzed term, the documents that contain it. */
export function buildTermStatistics(
  texts: Iterable<string>,
  analyzer: Analyzer,
  options: TaskOptions & { total?: number } = {},
): TermStatistics {
  const df = new Map<string, number>();
  let numDocs = 0;
  for (const text of texts) {
    if (numDocs % 1000 === 0) {
      throwIfAborted(options.signal, "term statistics");
      options.onProgress?.({
        task: "term statistics",
        done: numDocs,
        unit: "docs",
        ...(options.total === undefined ? {} : { total: options.total }),
      });
    }
    numDocs++;
    for (const term of new Set(analyzer.analyze(text).map((t) => t.term))) df.set(term, (df.get(term) ?? 0) + 1);
  }
  return { numDocs, docFreq: (term) => df.get(term) ?? 0 };
}
