// The training-pairs file both halves of embedding tuning share: JSON Lines, one object a line,
// `{query, pos[], neg?[], source?, pos_ids?[], neg_ids?[], pos_scores?[], neg_scores?[]}` —
// passages as text (FlagEmbedding's format), ids and scores optional. Reading checks every line
// and names file:line:field; writing appends whole lines, so an interrupted run leaves a readable file.
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import { readJsonLines, type JsonLine } from "../../formats/jsonl.js";

/** One training example: a query, its positive passages, optionally mined negatives. */
export interface Pair {
  query: string;
  pos: string[];
  neg?: string[];
  /** Where the pair came from: "llm:<model>", "title", "inverse-cloze", "qrels", … */
  source?: string;
  /** Doc/chunk ids of `pos`, when known (same order). */
  pos_ids?: string[];
  neg_ids?: string[];
  pos_scores?: number[];
  neg_scores?: number[];
}

const STRING_LISTS = ["pos", "neg", "pos_ids", "neg_ids"] as const;
const NUMBER_LISTS = ["pos_scores", "neg_scores"] as const;

/** A bad line of a pairs file, named file:line:field. */
export function badLine(file: string, line: number, field: string | undefined, problem: string): InfuseError {
  const where = `${file}:${line}${field ? `:${field}` : ""}`;
  return new InfuseError("embed.bad_pairs_line", `${where}: ${problem}`, {
    kind: "input",
    hint: 'each line of a pairs file is {"query": "...", "pos": ["..."], "neg"?: ["..."]} (FlagEmbedding JSONL)',
    details: { file, line, ...(field ? { field } : {}) },
  });
}

/** Checks one parsed line as a Pair (other keys, e.g. FlagEmbedding's `prompt`, are dropped); errors name file:line:field. */
export function checkPair(value: unknown, file: string, line: number): Pair {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw badLine(file, line, undefined, "expected a JSON object");
  const o = value as Record<string, unknown>;
  if (typeof o["query"] !== "string" || o["query"].trim() === "")
    throw badLine(file, line, "query", "needs a non-empty string");
  const pair: Pair = { query: o["query"], pos: [] };
  for (const key of STRING_LISTS) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
      throw badLine(file, line, key, "needs an array of strings");
    pair[key] = v as string[];
  }
  for (const key of NUMBER_LISTS) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isFinite(x)))
      throw badLine(file, line, key, "needs an array of numbers");
    pair[key] = v as number[];
  }
  if (pair.pos.length === 0) throw badLine(file, line, "pos", "needs at least one positive passage");
  const lengths: [string, number, number][] = [
    ["pos_ids", pair.pos_ids?.length ?? pair.pos.length, pair.pos.length],
    ["pos_scores", pair.pos_scores?.length ?? pair.pos.length, pair.pos.length],
    ["neg_ids", pair.neg_ids?.length ?? pair.neg?.length ?? 0, pair.neg?.length ?? 0],
    ["neg_scores", pair.neg_scores?.length ?? pair.neg?.length ?? 0, pair.neg?.length ?? 0],
  ];
  for (const [key, got, want] of lengths)
    if (got !== want) throw badLine(file, line, key, `has ${got} entries for ${want} passages`);
  if (o["source"] !== undefined) {
    if (typeof o["source"] !== "string") throw badLine(file, line, "source", "needs a string");
    pair.source = o["source"];
  }
  return pair;
}

/** Every pair of a pairs file, in order; a bad line is an error naming file:line:field. */
export async function readPairs(file: string): Promise<Pair[]> {
  const out: Pair[] = [];
  for await (const row of readLines(file)) {
    if (!row.ok) throw badLine(file, row.line, undefined, `not valid JSON: ${row.error}`);
    out.push(checkPair(row.value, file, row.line));
  }
  return out;
}

/** The pair as one line: keys in the format's order, empty optional lists left out. */
export function pairLine(pair: Pair): string {
  const o: Record<string, unknown> = { query: pair.query, pos: pair.pos };
  if (pair.neg !== undefined) o["neg"] = pair.neg;
  if (pair.source !== undefined) o["source"] = pair.source;
  for (const k of ["pos_ids", "neg_ids", "pos_scores", "neg_scores"] as const)
    if (pair[k] !== undefined) o[k] = pair[k];
  return JSON.stringify(o) + "\n";
}

/** Appends pairs to a file, line by line; `close()` flushes. */
export interface PairsWriter {
  /** Writes the pairs as one write, so an interrupted run leaves all of them or a torn last line. */
  write(...pairs: Pair[]): Promise<void>;
  close(): Promise<void>;
}

export async function pairsWriter(file: string, options: { append?: boolean } = {}): Promise<PairsWriter> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const stream: WriteStream = createWriteStream(file, { flags: options.append ? "a" : "w" });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  try {
    await opened;
  } catch (e) {
    throw new InfuseError("embed.write_failed", `cannot write ${file}: ${(e as Error).message}`, {
      kind: "io",
      hint: "check the --out path: its folder must be writable",
      cause: e,
    });
  }
  return {
    write: (...pairs) =>
      new Promise<void>((resolve, reject) =>
        pairs.length === 0 ? resolve() : stream.write(pairs.map(pairLine).join(""), (e) => (e ? reject(e) : resolve())),
      ),
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
  };
}

/** Writes all pairs to `file` (replacing it). */
export async function writePairs(file: string, pairs: Iterable<Pair>): Promise<void> {
  const w = await pairsWriter(file);
  try {
    for (const p of pairs) await w.write(p);
  } finally {
    await w.close();
  }
}

/** readJsonLines, with a missing file as a named not_found error. */
export async function* readLines(file: string): AsyncGenerator<JsonLine> {
  try {
    yield* readJsonLines(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new InfuseError("embed.file_missing", `${file} does not exist`, {
        kind: "not_found",
        hint: "check the path",
        details: { file },
      });
    throw e;
  }
}
