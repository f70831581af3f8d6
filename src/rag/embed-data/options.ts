// What `infuse embed queries` / `generateQueries()` and `infuse embed mine` / `mineNegatives()`
// accept, as one zod schema each: type, error wording, flag and help line per field. The library
// validates with them (errors `embed.bad_option` naming the flag); the CLI builds its flags from them.
import { z } from "zod";
import { InfuseError } from "../../core/errors.js";
import { fieldFlag, flagFields, optionError, optionTypes, type FlagMeta } from "../../core/option-schema.js";

const { posInt, nonNegInt, nonNeg, bool } = optionTypes;

const want = {
  unitPos: "a number in (0, 1]",
  text: "a non-empty string",
} as const;

const text = () => z.string({ error: want.text }).min(1, { error: want.text });
const opt = <T extends z.ZodType>(t: T, meta: FlagMeta) => t.exactOptional().meta(meta);

export const MINE_RETRIEVERS = ["bm25", "dense", "hybrid", "hybrid-weighted"] as const;
export type MineRetriever = (typeof MINE_RETRIEVERS)[number];

/** Where passages come from: one of a collection or a passages JSONL file (BEIR corpus.jsonl too). */
const corpusFields = {
  collection: opt(text(), {
    flag: "--collection",
    arg: "<name>",
    help: "read the passages from this collection's chunks",
  }),
  corpus: opt(text(), {
    flag: "--corpus",
    arg: "<file>",
    help: "read the passages from a JSONL file of {id?, title?, text} (BEIR corpus.jsonl with _id too)",
  }),
};

export const QueryOptionsSchema = z.strictObject({
  ...corpusFields,
  out: text().meta({ flag: "--out" }),
  llm: opt(text(), {
    flag: "--llm",
    arg: "<spec>",
    help: "model that writes the queries: a .gguf, engine:MODEL, openai:MODEL, ollama:MODEL (none: offline title and inverse-cloze pairs)",
  }),
  prompt: opt(text(), {
    flag: "--prompt",
    arg: "<file>",
    help: "prompt template file ({passage}, {n}, {title} are filled in; default: the shipped query-prompt.txt)",
  }),
  queriesPerPassage: opt(posInt(), {
    flag: "--per-passage",
    arg: "<n>",
    help: "queries the LLM writes per passage (3)",
  }),
  retries: opt(nonNegInt(), {
    flag: "--retries",
    arg: "<n>",
    help: "asks again after an answer that is not the JSON asked for, then counts it as malformed (2)",
  }),
  concurrency: opt(posInt(), {
    flag: "--concurrency",
    arg: "<n>",
    help: "passages in flight at once (for remote servers; 1)",
  }),
  maxTokens: opt(posInt(), { flag: "--max-tokens", arg: "<n>", help: "longest LLM answer, in tokens (512)" }),
  temperature: opt(nonNeg(), { flag: "--temperature", arg: "<t>", help: "LLM sampling temperature (0.7)" }),
  title: opt(bool(), {
    flag: "--title",
    help: "offline: title → passage pairs (default on)",
    off: "offline: no title → passage pairs",
  }),
  inverseCloze: opt(bool(), {
    flag: "--inverse-cloze",
    help: "offline: one sentence as the query for the rest of its passage (default on)",
    off: "offline: no inverse-cloze pairs",
  }),
  limit: opt(posInt(), { flag: "--limit", arg: "<n>", help: "the first N passages only" }),
  seed: opt(nonNegInt(), { flag: "--seed", arg: "<n>", help: "seed of sentence draws and LLM sampling (0)" }),
});
export type QueryOptions = z.input<typeof QueryOptionsSchema>;

export const MineOptionsSchema = z.strictObject({
  /** The pairs file (the library also takes pairs in memory). */
  pairs: text().exactOptional().meta({ flag: "PAIRS" }),
  ...corpusFields,
  /** Where the mined pairs go (the library may only return them). */
  out: text().exactOptional().meta({ flag: "--out" }),
  candidatePool: opt(text(), {
    flag: "--candidate-pool",
    arg: "<file>",
    help: "draw negatives from these passages (JSONL) instead of the corpus",
  }),
  retriever: opt(z.enum(MINE_RETRIEVERS, { error: MINE_RETRIEVERS.join(", ") }), {
    flag: "--retriever",
    arg: "<mode>",
    help: `retriever that ranks the candidates: ${MINE_RETRIEVERS.join("|")} (bm25)`,
  }),
  embedder: opt(text(), {
    flag: "--embedder",
    arg: "<spec>",
    help: "embedder for dense and hybrid mining (default: the collection's, else hash-1024-unigram-stop)",
  }),
  range: opt(text(), {
    flag: "--range",
    arg: "<from-to>",
    help: "ranks the negatives are drawn from, 1-based and inclusive (2-200)",
  }),
  negatives: opt(posInt(), { flag: "--negatives", arg: "<n>", help: "negatives per query (15)" }),
  maxRelative: opt(z.number({ error: want.unitPos }).gt(0, { error: want.unitPos }).max(1, { error: want.unitPos }), {
    flag: "--max-relative",
    arg: "<f>",
    help: "drop a candidate scoring above f × the positive's score as a probable positive (0.95; 1: only those above it)",
  }),
  margin: opt(nonNeg(), {
    flag: "--margin",
    arg: "<m>",
    help: "also drop a candidate scoring within m (absolute) of the positive's score (off)",
  }),
  reranker: opt(text(), {
    flag: "--reranker",
    arg: "<spec>",
    help: "re-score candidates and positives with a cross-encoder (ONNX folder or hub reference) or llm:SPEC",
  }),
  concurrency: opt(posInt(), { flag: "--concurrency", arg: "<n>", help: "queries in flight at once (4)" }),
  seed: opt(nonNegInt(), { flag: "--seed", arg: "<n>", help: "seed of the negative draws (0)" }),
});
export type MineOptionsInput = z.input<typeof MineOptionsSchema>;

/** Validates options with their schema; the first complaint is `embed.bad_option`, naming the flag. */
export function checkOptions<S extends z.ZodObject>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw optionError(parsed.error, input, {
    code: "embed.bad_option",
    noun: "an embed option",
    flagOf: (path) => fieldFlag(schema, path[0] ?? ""),
  });
}

export const QUERY_FLAGS = flagFields(QueryOptionsSchema);
export const MINE_FLAGS = flagFields(MineOptionsSchema);

/** `2-200` → [2, 200]: 1-based inclusive ranks, from ≤ to. */
export function parseRange(spec: string): [number, number] {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(spec);
  const from = m ? Number(m[1]) : NaN;
  const to = m ? Number(m[2]) : NaN;
  if (!m || from < 1 || to < from)
    throw new InfuseError("embed.bad_range", `--range "${spec}" is not FROM-TO with 1 ≤ FROM ≤ TO`, {
      kind: "usage",
      hint: "write ranks as FROM-TO, e.g. --range 2-200 (rank 1 is the top hit; 10-100 skips the ten easiest)",
      details: { flag: "--range", value: spec },
    });
  return [from, to];
}
