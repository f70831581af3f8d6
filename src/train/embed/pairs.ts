// The pairs file of embedding training (FlagEmbedding's JSONL, written by `infuse embed queries` and
// `infuse embed mine`): one `{query, pos[], neg?[], source?, pos_ids?, neg_ids?, pos_scores?,
// neg_scores?}` a line, read through formats/jsonl.ts. A bad line is `train.bad_pairs` naming
// file:line and the field. Leaves out streaming: a pairs file is held in memory.
import { existsSync } from "node:fs";
import { InfuseError } from "../../core/errors.js";
import { readJsonLines } from "../../formats/jsonl.js";

export interface EmbedPair {
  query: string;
  /** Passages that answer the query (at least one). */
  pos: string[];
  /** Hard negatives (mined); may be empty. */
  neg: string[];
  source?: string;
  pos_ids?: string[];
  neg_ids?: string[];
  pos_scores?: number[];
  neg_scores?: number[];
}

function badPair(file: string, line: number, field: string, what: string): InfuseError {
  return new InfuseError("train.bad_pairs", `${file}:${line}: ${field} ${what}`, {
    kind: "input",
    hint: `each line is {"query": string, "pos": [string, …], "neg"?: [string, …]}; fix or remove line ${line}`,
    details: { file, line, field },
  });
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((s) => typeof s === "number");

/** One parsed line → a pair, or the error naming `file:line` and the field at fault. */
export function toPair(value: unknown, file: string, line: number): EmbedPair {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw badPair(file, line, "line", "is not a JSON object");
  const o = value as Record<string, unknown>;
  if (typeof o["query"] !== "string" || o["query"].trim() === "")
    throw badPair(file, line, "query", "is missing or not a non-empty string");
  if (!strings(o["pos"]) || o["pos"].length === 0)
    throw badPair(file, line, "pos", "is missing or not a non-empty list of strings");
  if (o["neg"] !== undefined && !strings(o["neg"])) throw badPair(file, line, "neg", "is not a list of strings");
  const pair: EmbedPair = { query: o["query"], pos: o["pos"], neg: (o["neg"] as string[] | undefined) ?? [] };
  if (o["source"] !== undefined) {
    if (typeof o["source"] !== "string") throw badPair(file, line, "source", "is not a string");
    pair.source = o["source"];
  }
  for (const k of ["pos_ids", "neg_ids"] as const) {
    if (o[k] === undefined) continue;
    if (!strings(o[k])) throw badPair(file, line, k, "is not a list of strings");
    pair[k] = o[k];
  }
  for (const k of ["pos_scores", "neg_scores"] as const) {
    if (o[k] === undefined) continue;
    if (!numbers(o[k])) throw badPair(file, line, k, "is not a list of numbers");
    pair[k] = o[k];
  }
  return pair;
}

/** Reads every pair of `file`; the first bad line fails the read. */
export async function readPairs(file: string): Promise<EmbedPair[]> {
  if (!existsSync(file)) {
    throw new InfuseError("train.no_pairs_file", `${file}: no such pairs file`, {
      kind: "not_found",
      hint: "give a JSONL file written by `infuse embed queries` / `infuse embed mine` (--data FILE)",
      details: { file },
    });
  }
  const out: EmbedPair[] = [];
  for await (const l of readJsonLines(file)) {
    if (!l.ok) throw badPair(file, l.line, "line", `is not JSON (${l.error})`);
    out.push(toPair(l.value, file, l.line));
  }
  return out;
}
