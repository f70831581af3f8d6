// The pairs file of embedding training (FlagEmbedding's JSONL, written by `infuse embed queries` and
// `infuse embed mine`, read by `infuse embed tune`): one `{query, pos[], neg?[], source?, pos_ids?,
// neg_ids?, pos_scores?, neg_scores?}` a line — passages as text, ids and scores optional, in the
// same order as their passages. This is the one checker of a line: a bad one is `train.bad_pairs`
// naming file:line and the field. rag/embed-data/ writes the file and reads it back through here.
import { existsSync } from "node:fs";
import { InfuseError } from "../../core/errors.js";
import { readJsonLines } from "../../formats/jsonl.js";

/** One training example as the file holds it: a query, its positives, optionally mined negatives. */
export interface Pair {
  query: string;
  /** Passages that answer the query (at least one). */
  pos: string[];
  /** Hard negatives (mined). */
  neg?: string[];
  /** Where the pair came from: "llm:<model>", "title", "inverse-cloze", "qrels", … */
  source?: string;
  /** Doc/chunk ids of `pos`, when known (same order). */
  pos_ids?: string[];
  neg_ids?: string[];
  pos_scores?: number[];
  neg_scores?: number[];
}

/** A pair as training uses it: `neg` always present (maybe empty). */
export type EmbedPair = Pair & { neg: string[] };

/** A bad line of a pairs file, named file:line:field. */
export function badPairLine(file: string, line: number, field: string | undefined, problem: string): InfuseError {
  const where = `${file}:${line}${field ? `:${field}` : ""}`;
  return new InfuseError("train.bad_pairs", `${where}: ${problem}`, {
    kind: "input",
    hint: `each line is {"query": string, "pos": [string, …], "neg"?: [string, …]} (FlagEmbedding JSONL); fix or remove line ${line}`,
    details: { file, line, ...(field ? { field } : {}) },
  });
}

const STRING_LISTS = ["pos", "neg", "pos_ids", "neg_ids"] as const;
const NUMBER_LISTS = ["pos_scores", "neg_scores"] as const;

/** Checks one parsed line as a Pair (other keys, e.g. FlagEmbedding's `prompt`, are dropped). */
export function checkPair(value: unknown, file: string, line: number): Pair {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw badPairLine(file, line, undefined, "expected a JSON object");
  const o = value as Record<string, unknown>;
  if (typeof o["query"] !== "string" || o["query"].trim() === "")
    throw badPairLine(file, line, "query", "needs a non-empty string");
  const pair: Pair = { query: o["query"], pos: [] };
  for (const key of STRING_LISTS) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
      throw badPairLine(file, line, key, "needs an array of strings");
    pair[key] = v as string[];
  }
  for (const key of NUMBER_LISTS) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isFinite(x)))
      throw badPairLine(file, line, key, "needs an array of numbers");
    pair[key] = v as number[];
  }
  if (pair.pos.length === 0) throw badPairLine(file, line, "pos", "needs at least one positive passage");
  const lengths: [string, number, number][] = [
    ["pos_ids", pair.pos_ids?.length ?? pair.pos.length, pair.pos.length],
    ["pos_scores", pair.pos_scores?.length ?? pair.pos.length, pair.pos.length],
    ["neg_ids", pair.neg_ids?.length ?? pair.neg?.length ?? 0, pair.neg?.length ?? 0],
    ["neg_scores", pair.neg_scores?.length ?? pair.neg?.length ?? 0, pair.neg?.length ?? 0],
  ];
  for (const [key, got, want] of lengths)
    if (got !== want) throw badPairLine(file, line, key, `has ${got} entries for ${want} passages`);
  if (o["source"] !== undefined) {
    if (typeof o["source"] !== "string") throw badPairLine(file, line, "source", "needs a string");
    pair.source = o["source"];
  }
  return pair;
}

/** One parsed line → a pair for training (`neg` defaulted to none). */
export function toPair(value: unknown, file: string, line: number): EmbedPair {
  const pair = checkPair(value, file, line);
  return { ...pair, neg: pair.neg ?? [] };
}

/** Every pair of `file` as the file holds it; the first bad line fails the read. */
export async function readPairs(file: string): Promise<Pair[]> {
  if (!existsSync(file)) {
    throw new InfuseError("train.no_pairs_file", `${file}: no such pairs file`, {
      kind: "not_found",
      hint: "give a JSONL file written by `infuse embed queries` / `infuse embed mine` (--data FILE)",
      details: { file },
    });
  }
  const out: Pair[] = [];
  for await (const l of readJsonLines(file)) {
    if (!l.ok) throw badPairLine(file, l.line, undefined, `not valid JSON: ${l.error}`);
    out.push(checkPair(l.value, file, l.line));
  }
  return out;
}

/** The pairs of `file` for training: `neg` defaulted to none. */
export async function readTrainingPairs(file: string): Promise<EmbedPair[]> {
  return (await readPairs(file)).map((p) => ({ ...p, neg: p.neg ?? [] }));
}
