// The passages that queries are written for and negatives are mined from: a JSONL file of
// `{id?, title?, text}` (BEIR's corpus.jsonl with `_id` too) or a collection's chunks. A passage's
// text as a model sees it is `title\ntext` (as records are indexed), so pairs, mined negatives and
// the mining index all hold the same string for the same passage.
import { createHash } from "node:crypto";
import { InfuseError } from "../../core/errors.js";
import type { CollectionStore } from "../store/index.js";
import { readLines } from "./pairs.js";

export interface Passage {
  /** The document id (BEIR `_id`), a chunk id, or a hash of the text when the file gives none. */
  id: string;
  title?: string;
  text: string;
}

/** The passage as embedded and trained on: title and text on two lines (the text alone without a title). */
export function passageText(p: Passage): string {
  return p.title ? `${p.title}\n${p.text}` : p.text;
}

/** A stable id for a passage that has none: a hash of its text. */
export function textId(text: string): string {
  return "h" + createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function badPassage(file: string, line: number, field: string | undefined, problem: string): InfuseError {
  return new InfuseError("embed.bad_passage_line", `${file}:${line}${field ? `:${field}` : ""}: ${problem}`, {
    kind: "input",
    hint: 'each line of a passages file is {"id"?: "...", "title"?: "...", "text": "..."} (BEIR corpus.jsonl: "_id")',
    details: { file, line, ...(field ? { field } : {}) },
  });
}

/** Streams the passages of a JSONL file; blank texts are errors naming file:line:field. */
export async function* readPassages(file: string): AsyncGenerator<Passage> {
  for await (const row of readLines(file)) {
    if (!row.ok) throw badPassage(file, row.line, undefined, `not valid JSON: ${row.error}`);
    const v = row.value;
    if (typeof v !== "object" || v === null || Array.isArray(v))
      throw badPassage(file, row.line, undefined, "expected a JSON object");
    const o = v as Record<string, unknown>;
    const text = o["text"];
    if (typeof text !== "string") throw badPassage(file, row.line, "text", "needs a string");
    const idField = o["_id"] !== undefined ? "_id" : "id";
    const rawId = o[idField];
    if (rawId !== undefined && typeof rawId !== "string" && typeof rawId !== "number")
      throw badPassage(file, row.line, idField, "needs a string");
    const title = o["title"];
    if (title !== undefined && typeof title !== "string") throw badPassage(file, row.line, "title", "needs a string");
    if (text.trim() === "" && !title) continue; // nothing to write a query for or to mine
    yield {
      id: rawId === undefined || rawId === "" ? textId(text) : String(rawId),
      ...(title ? { title } : {}),
      text,
    };
  }
}

/** All passages of a file, with a named error when there are none. */
export async function loadPassages(file: string): Promise<Passage[]> {
  const out: Passage[] = [];
  for await (const p of readPassages(file)) out.push(p);
  if (out.length === 0)
    throw new InfuseError("embed.empty_corpus", `${file} holds no passages`, {
      kind: "input",
      hint: 'give a JSONL file with one {"text": "..."} object a line',
      details: { file },
    });
  return out;
}

/**
 * A collection's chunks as passages (id = chunk id), unit by unit in key order. A record's title
 * that its chunk text starts with is split off again, so `passageText` gives the stored text back.
 */
export async function* collectionPassages(store: CollectionStore): AsyncGenerator<Passage> {
  for (const unit of Object.keys(store.manifest.units).sort()) {
    for (const chunk of await store.chunksOf(unit)) {
      const title = chunk.metadata["title"];
      if (typeof title === "string" && title !== "" && chunk.text.startsWith(`${title}\n`))
        yield { id: chunk.id, title, text: chunk.text.slice(title.length + 1) };
      else yield { id: chunk.id, text: chunk.text };
    }
  }
}
