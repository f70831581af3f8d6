// BM25 for the Postgres store: documents are analyzed here with the collection's analyzer (the
// English analyzer the LanceDB full-text index mirrors: split on non-alphanumerics, lowercase,
// ASCII folding, Snowball stop words, Porter2 stems) into per-chunk term frequencies and lengths;
// scores are computed in SQL from the postings and the revision's statistics with LanceDB's
// formula: idf = ln(1 + (N − df + 0.5) / (df + 0.5)), tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen)).
import { InfuseError } from "../../../core/errors.js";
import { englishAnalyzer, ENGLISH_STOP_WORDS, type Analyzer } from "../../expand/analyzer.js";
import type { FtsSettings } from "../types.js";

export const K1 = 1.2;
/** The columns a search returns, on alias c. */
export const CHUNK_COLUMNS = "c.chunk_id, c.text, c.source, c.page, c.heading, c.char_start, c.char_end, c.metadata";
export const B = 0.75;
const NO_STOP_WORDS: ReadonlySet<string> = new Set();

export interface TermCounts {
  terms: Map<string, number>;
  length: number;
}

export interface FtsAnalyzer {
  /** A document's term frequencies and length (tokens kept). */
  counts(text: string): TermCounts;
  /** A query's distinct terms. */
  queryTerms(text: string): string[];
}

const fold = (s: string) => s.normalize("NFKD").replace(/\p{M}+/gu, "");

export function ftsAnalyzer(fts: FtsSettings): FtsAnalyzer {
  if (fts.language.toLowerCase() !== "english") {
    throw new InfuseError(
      "store.fts_language",
      `the Postgres store analyzes English only, not the collection's ${fts.language}`,
      { kind: "usage", hint: 'use the LanceDB store for this collection, or ingest with language "English"' },
    );
  }
  const analyzer: Analyzer = englishAnalyzer({
    stem: fts.stem,
    stopWords: fts.removeStopWords ? ENGLISH_STOP_WORDS : NO_STOP_WORDS,
  });
  const tokens = (text: string) => analyzer.analyze(fts.asciiFolding ? fold(text) : text).map((t) => t.term);
  return {
    counts(text) {
      const terms = new Map<string, number>();
      const all = tokens(text);
      for (const t of all) terms.set(t, (terms.get(t) ?? 0) + 1);
      return { terms, length: all.length };
    },
    queryTerms: (text) => [...new Set(tokens(text))],
  };
}

/**
 * The top chunks' row ids and BM25 scores at revision $2 for query terms $1: document frequencies
 * over every chunk visible at the revision, scores only for those passing `where` (filters on c).
 * $3 = N, $4 = average length, $5 = limit.
 */
export function bm25Sql(chunks: string, postings: string, visible: string, where: string[]): string {
  return `
    WITH hits AS (
      SELECT p.term, p.row_id, p.tf, c.doc_len
      FROM ${postings} p JOIN ${chunks} c ON c.row_id = p.row_id
      WHERE p.term = ANY($1::text[]) AND ${visible}
    ),
    df AS (SELECT term, count(*)::float8 AS df FROM hits GROUP BY term),
    scored AS (
      SELECT h.row_id,
        sum(ln(1 + ($3::float8 - df.df + 0.5) / (df.df + 0.5))
            * h.tf * ${K1 + 1} / (h.tf + ${K1} * (1 - ${B} + ${B} * h.doc_len / $4::float8))) AS score
      FROM hits h JOIN df USING (term)
      GROUP BY h.row_id
    )
    SELECT s.score, ${CHUNK_COLUMNS} FROM scored s JOIN ${chunks} c ON c.row_id = s.row_id
    ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY s.score DESC, c.row_id
    LIMIT $5`;
}
