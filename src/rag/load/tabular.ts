// CSV, JSON (an array of objects) and JSONL: one document per row/record. With a text column
// (chosen, or for JSON/JSONL found by name) its value is the text and the other columns are
// metadata; otherwise, and by default for CSV, the text is every column as a `column: value` line,
// so a row's price is found with its description (short values are kept as metadata too, for
// filters). Nested values become JSON strings. CSV and JSONL are read by formats/csv and
// formats/jsonl, the project's one reader of each.
import { InfuseError } from "../../core/errors.js";
import { parseCsv } from "../../formats/csv.js";
import { parseJsonLines } from "../../formats/jsonl.js";
import type { LoadedDocument, MetadataValue } from "../types.js";
import type { LoadedFile, TabularOptions } from "./types.js";

const TEXT_COLUMNS = ["text", "content", "body", "passage"];
const ID_COLUMNS = ["_id", "id"];

function toMetadataValue(v: unknown): MetadataValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  return JSON.stringify(v);
}

/** Longest value an all-columns row also keeps as metadata (longer ones are only in the text). */
const MAX_METADATA_VALUE = 200;

/**
 * Documents from records (objects); `row` is 1-based. The text is `options.textColumn`, else (for
 * `findTextColumn`) the first of text/content/body/passage present, else every column.
 */
export function recordsToDocuments(
  records: Record<string, unknown>[],
  source: string,
  options: TabularOptions,
  format: string,
  findTextColumn = true,
): LoadedFile {
  const columns = new Set(records.flatMap((r) => Object.keys(r)));
  if (options.textColumn !== undefined && !columns.has(options.textColumn)) {
    throw new InfuseError(
      "rag.text_column_missing",
      `${source}: no text column "${options.textColumn}"; columns are ${[...columns].join(", ") || "(none)"}`,
      {
        kind: "usage",
        hint: "name a column that exists with --text-column, or leave it out to index every column as `column: value` lines",
        details: { source, columns: [...columns] },
      },
    );
  }
  const textColumn = options.textColumn ?? (findTextColumn ? TEXT_COLUMNS.find((c) => columns.has(c)) : undefined);
  const idColumn = options.idColumn ?? ID_COLUMNS.find((c) => columns.has(c));
  const out: LoadedFile = { documents: [], warnings: [] };
  records.forEach((record, i) => {
    const text = textColumn === undefined ? allColumns(record) : asText(record[textColumn]);
    if (text.trim().length === 0) {
      out.warnings.push({ source, reason: `row ${i + 1}: empty ${textColumn ? `"${textColumn}"` : "row"}, skipped` });
      return;
    }
    const metadata: LoadedDocument["metadata"] = { format, row: i + 1 };
    for (const [k, v] of Object.entries(record)) {
      if (k === textColumn) continue;
      const mv = toMetadataValue(v);
      if (mv === undefined) continue;
      if (textColumn === undefined && k !== idColumn && String(mv).length > MAX_METADATA_VALUE) continue;
      metadata[k === idColumn ? "doc_id" : k] = mv;
    }
    out.documents.push({ source, text, metadata });
  });
  return out;
}

function asText(value: unknown): string {
  return typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
}

/** A record as `column: value` lines, empty values left out. */
function allColumns(record: Record<string, unknown>): string {
  return Object.entries(record)
    .map(([k, v]) => [k, asText(v).trim()] as const)
    .filter(([, v]) => v.length > 0)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

export function loadCsv(text: string, source: string, options: TabularOptions = {}): LoadedFile {
  const { header, rows, unclosedQuoteLine } = parseCsv(text);
  if (unclosedQuoteLine !== undefined)
    throw new InfuseError("rag.csv_invalid", `${source}:${unclosedQuoteLine}: a quoted field is never closed`, {
      kind: "input",
      hint: 'close the field with " (a quote inside a field is written "")',
    });
  if (header.length === 0) return { documents: [], warnings: [{ source, reason: "empty CSV file" }] };
  const records = rows.map((r) => Object.fromEntries(header.map((h, i) => [h.trim(), r.cells[i] ?? ""])));
  // a CSV row is read whole by default: every column, as `column: value` lines
  return recordsToDocuments(records, source, options, "csv", false);
}

function asRecord(v: unknown, source: string, where: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new InfuseError("rag.json_not_object", `${source}: ${where} is not a JSON object`, {
      kind: "input",
      hint: "JSON files must hold an array of objects; JSONL files one object per line",
    });
  }
  return v as Record<string, unknown>;
}

function parseJson(text: string, source: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InfuseError("rag.json_invalid", `${source}: ${where} is not valid JSON (${(e as Error).message})`, {
      kind: "input",
      cause: e,
    });
  }
}

export function loadJson(text: string, source: string, options: TabularOptions = {}): LoadedFile {
  const value = parseJson(text, source, "the file");
  const list = Array.isArray(value) ? value : [value];
  return recordsToDocuments(
    list.map((v, i) => asRecord(v, source, `item ${i + 1}`)),
    source,
    options,
    "json",
  );
}

export function loadJsonl(text: string, source: string, options: TabularOptions = {}): LoadedFile {
  const records = parseJsonLines(text).map((row) => {
    if (!row.ok)
      throw new InfuseError("rag.json_invalid", `${source}: line ${row.line} is not valid JSON (${row.error})`, {
        kind: "input",
        hint: "a JSONL file holds one JSON object per line",
      });
    return asRecord(row.value, source, `line ${row.line}`);
  });
  return recordsToDocuments(records, source, options, "jsonl");
}
