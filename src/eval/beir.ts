// Loads a BEIR-format data set folder: corpus.jsonl ({_id, title, text}), queries.jsonl ({_id, text})
// and qrels/<split>.tsv. Only the queries that have judgments in the split are kept, as BEIR does.
// Leaves out BEIR's downloading and its other layouts (HF datasets, parquet).
import { existsSync } from "node:fs";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { readJsonLines } from "../formats/jsonl.js";
import type { Qrels } from "./metrics.js";
import { loadQrels } from "./qrels.js";

export interface BeirDocument {
  id: string;
  title: string;
  text: string;
}

export interface BeirQuery {
  id: string;
  text: string;
}

export interface BeirDataset {
  dir: string;
  split: string;
  corpus: BeirDocument[];
  /** Queries that appear in the split's qrels, in file order. */
  queries: BeirQuery[];
  qrels: Qrels;
}

/** Reads corpus, queries and the split's qrels; errors name the file, line and field. */
export async function loadBeir(dir: string, options: { split?: string } = {}): Promise<BeirDataset> {
  const split = options.split ?? "test";
  const folder = path.resolve(dir);
  for (const name of ["corpus.jsonl", "queries.jsonl", `qrels/${split}.tsv`]) {
    if (!existsSync(path.join(folder, name)))
      throw new InfuseError("eval.beir_missing_file", `${path.join(folder, name)} does not exist`, {
        kind: "not_found",
        hint: `a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/${split}.tsv; check the path and --split`,
        details: { dir: folder, file: name },
      });
  }
  const qrels = await loadQrels(path.join(folder, "qrels", `${split}.tsv`));
  const corpus: BeirDocument[] = [];
  for await (const doc of readBeirCorpus(path.join(folder, "corpus.jsonl"))) corpus.push(doc);
  const queries: BeirQuery[] = [];
  for await (const row of readJsonl(path.join(folder, "queries.jsonl"))) {
    const id = stringField(row, "_id");
    if (qrels.has(id)) queries.push({ id, text: stringField(row, "text") });
  }
  const known = new Set(queries.map((q) => q.id));
  const unknown = [...qrels.keys()].filter((id) => !known.has(id));
  if (unknown.length > 0)
    throw new InfuseError(
      "eval.beir_unknown_query",
      `qrels/${split}.tsv judges ${unknown.length} query id(s) missing from queries.jsonl (first: ${unknown[0]})`,
      { kind: "input", hint: "the qrels and queries files come from different data sets", details: { unknown } },
    );
  return { dir: folder, split, corpus, queries, qrels };
}

/** Streams the documents of a corpus.jsonl; `title` may be absent (then ""). */
export async function* readBeirCorpus(file: string): AsyncGenerator<BeirDocument> {
  for await (const row of readJsonl(file)) {
    const title = row.value["title"];
    yield {
      id: stringField(row, "_id"),
      title: typeof title === "string" ? title : "",
      text: stringField(row, "text"),
    };
  }
}

interface JsonlRow {
  file: string;
  line: number;
  value: Record<string, unknown>;
}

async function* readJsonl(file: string): AsyncGenerator<JsonlRow> {
  for await (const row of readJsonLines(file)) {
    const line = row.line;
    if (!row.ok)
      throw new InfuseError("eval.beir_invalid_json", `${file}:${line}: not valid JSON: ${row.error}`, {
        kind: "input",
        hint: "each line of a BEIR .jsonl file is one JSON object",
        details: { file, line },
      });
    const value = row.value;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new InfuseError("eval.beir_invalid_json", `${file}:${line}: expected a JSON object`, {
        kind: "input",
        hint: 'each line is an object like {"_id": "1", "text": "..."}',
        details: { file, line },
      });
    yield { file, line, value: value as Record<string, unknown> };
  }
}

/** A required field: ids may be numbers in some exports and are read as strings. */
function stringField(row: JsonlRow, field: string): string {
  const v = row.value[field];
  if (typeof v === "string") return v;
  if (field === "_id" && typeof v === "number") return String(v);
  throw new InfuseError(
    "eval.beir_invalid_field",
    `${row.file}:${row.line}: field "${field}" is ${v === undefined ? "missing" : `a ${typeof v}, not a string`}`,
    { kind: "input", hint: `every line needs a string "${field}"`, details: { file: row.file, line: row.line, field } },
  );
}
