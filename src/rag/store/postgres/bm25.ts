// BM25 for the Postgres store: documents are analyzed here with the collection's analyzer, in
// the order LanceDB's full-text index applies it (split on non-alphanumerics, drop tokens of 40
// bytes or more, lowercase, Porter2 stem, drop stems on LanceDB's English stop list, ASCII
// folding), into per-chunk term frequencies and lengths;
// scores are computed in SQL from the postings and the revision's statistics with LanceDB's
// formula: idf = ln(1 + (N − df + 0.5) / (df + 0.5)), tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen)).
import { InfuseError } from "../../../core/errors.js";
import stem from "wink-porter2-stemmer";
import type { FtsSettings } from "../types.js";

export const K1 = 1.2;
/** The columns a search returns, on alias c. */
export const CHUNK_COLUMNS = "c.chunk_id, c.text, c.source, c.page, c.heading, c.char_start, c.char_end, c.metadata";
export const B = 0.75;
const MAX_TOKEN_BYTES = 40;

/**
 * The English stop words LanceDB's index drops (NLTK's list; apostrophe forms left out, as the
 * tokenizer splits them), checked against stems as LanceDB does: "doing" → "do" is dropped,
 * "only" → "onli" is kept. Probed against @lancedb/lancedb 0.37's index word by word.
 */
const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers " +
    "herself it its itself they them their theirs themselves what which who whom this that these those am is " +
    "are was were be been being have has had having do does did doing a an the and but if or because as until " +
    "while of at by for with about against between into through during before after above below to from up " +
    "down in out on off over under again further then once here there when where why how all any both each " +
    "few more most other some such no nor not only own same so than too very s t can will just don should now " +
    "d ll m o re ve y ain aren couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn " +
    "weren won wouldn"
  ).split(" "),
);
const WORD = /[\p{L}\p{N}]+/gu;
const NON_ASCII = /[^\x00-\x7f]/;

export interface TermCounts {
  terms: Map<string, number>;
  length: number;
}

export interface FtsAnalyzer {
  /** A document's term frequencies and length (tokens kept). */
  counts(text: string): TermCounts;
  /** A query's distinct terms and how often each occurs (LanceDB scores a repeated term again). */
  queryTerms(text: string): { terms: string[]; counts: number[] };
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
  const stems = new Map<string, string>();
  const stemOf = (w: string) => {
    let s = stems.get(w);
    if (s === undefined) {
      s = stem(w);
      if (stems.size < 100_000) stems.set(w, s);
    }
    return s;
  };
  const tokens = (text: string): string[] => {
    const out: string[] = [];
    for (const match of text.matchAll(WORD)) {
      let w = match[0];
      if (w.length * 3 >= MAX_TOKEN_BYTES && Buffer.byteLength(w) >= MAX_TOKEN_BYTES) continue;
      if (fts.lowercase) w = w.toLowerCase();
      if (fts.stem) w = stemOf(w);
      if (fts.removeStopWords && STOP_WORDS.has(w)) continue;
      out.push(fts.asciiFolding && NON_ASCII.test(w) ? fold(w) : w);
    }
    return out;
  };
  return {
    counts(text) {
      const terms = new Map<string, number>();
      const all = tokens(text);
      for (const t of all) terms.set(t, (terms.get(t) ?? 0) + 1);
      return { terms, length: all.length };
    },
    queryTerms(text) {
      const counts = new Map<string, number>();
      for (const t of tokens(text)) counts.set(t, (counts.get(t) ?? 0) + 1);
      return { terms: [...counts.keys()], counts: [...counts.values()] };
    },
  };
}

/**
 * The top chunks and their BM25 scores at revision $2 for query terms $1 (each counted $6 times):
 * document frequencies over every chunk visible at the revision, scores only for those passing
 * `where` (filters on c). $3 = N, $4 = average length, $5 = limit.
 */
export function bm25Sql(chunks: string, postings: string, visible: string, where: string[]): string {
  return `
    WITH hits AS (
      SELECT p.term, p.row_id, p.tf, c.doc_len
      FROM ${postings} p JOIN ${chunks} c ON c.row_id = p.row_id
      WHERE p.term = ANY($1::text[]) AND ${visible}
    ),
    df AS (SELECT term, count(*)::float8 AS df FROM hits GROUP BY term),
    q AS (SELECT * FROM unnest($1::text[], $6::integer[]) AS q(term, n)),
    scored AS (
      SELECT h.row_id,
        sum(q.n * ln(1 + ($3::float8 - df.df + 0.5) / (df.df + 0.5))
            * h.tf * ${K1 + 1} / (h.tf + ${K1} * (1 - ${B} + ${B} * h.doc_len / $4::float8))) AS score
      FROM hits h JOIN df USING (term) JOIN q USING (term)
      GROUP BY h.row_id
    )
    SELECT s.score, ${CHUNK_COLUMNS} FROM scored s JOIN ${chunks} c ON c.row_id = s.row_id
    ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY s.score DESC, c.row_id
    LIMIT $5`;
}
