// Training records from files: Alpaca JSON/JSONL (instruction/input/output), chat JSONL (`messages`
// with roles), CSV or JSON(L) with user-named columns, and raw text. Every bad record is an error
// naming the file, the record (line) and the field, unless `skipBadRecords`: then it is counted and
// skipped (a file with no good record is still an error). Leaves out Parquet and remote datasets.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, isInfuseError } from "../../core/errors.js";
import { isChatRole, type ChatMessage } from "../../tokenizers/chat.js";
import { mapColumns, type GuessedColumns } from "./columns.js";
import { parseCsvRecords } from "./csv.js";
import { parseJsonLines } from "../../formats/jsonl.js";

export type TrainRecord =
  | { kind: "instruction"; instruction: string; input: string; output: string; system?: string; where: string }
  | { kind: "chat"; messages: ChatMessage[]; where: string }
  | { kind: "text"; text: string; where: string };

export type DatasetFormat = "auto" | "alpaca" | "chat" | "csv" | "text";

/** Column names of instruction-style records (CSV or JSON); the defaults are Alpaca's. */
export interface ColumnMap {
  instruction?: string;
  input?: string;
  output?: string;
  system?: string;
}

export interface DatasetSource {
  path: string;
  format?: DatasetFormat;
  columns?: ColumnMap;
}

/** A record left out under `skipBadRecords`: where it is, the field at fault, and the error's message. */
export interface SkippedRecord {
  record: string;
  field?: string;
  message: string;
}

/** How many records were skipped, and the first few of them. */
export interface SkipReport {
  count: number;
  first: SkippedRecord[];
}

/** Skipped records kept in a report (the count covers all). */
export const SKIPPED_SHOWN = 5;

export interface LoadOptions {
  /** Skip malformed records (counted and reported) instead of failing on the first. */
  skipBadRecords?: boolean;
}

export const emptySkipReport = (): SkipReport => ({ count: 0, first: [] });

/** Adds `b`'s skipped records to `a` (first few kept, in order). */
export function addSkips(a: SkipReport, b: SkipReport): SkipReport {
  return { count: a.count + b.count, first: [...a.first, ...b.first].slice(0, SKIPPED_SHOWN) };
}

/** One line on skipped records: the count and the first few, each `file:record: what is wrong`. */
export function skippedSummary(s: SkipReport): string {
  const more = s.count > s.first.length ? `; ${s.count - s.first.length} more` : "";
  return `skipped ${s.count} bad record${s.count === 1 ? "" : "s"}: ${s.first.map((r) => r.message).join("; ")}${more}`;
}

function recordError(where: string, message: string, hint: string, field?: string, missing = false): InfuseError {
  return new InfuseError("train.bad_record", `${where}: ${message}`, {
    kind: "input",
    hint: `${hint} (or skip such records with --skip-bad-records)`,
    details: { record: where, ...(field ? { field } : {}), ...(missing ? { missing } : {}) },
  });
}

type Parsed = { value: unknown; where: string } | { error: InfuseError; where: string };

/**
 * One JSON object per line (JSONL) or one JSON array; each with where = file:line or file record N.
 * A line that is not JSON is kept as its error (in file order); a broken array fails the whole file.
 */
function jsonObjects(text: string, file: string): Parsed[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    let parsed: unknown[];
    try {
      parsed = JSON.parse(text) as unknown[];
    } catch (e) {
      throw recordError(file, `not valid JSON (${(e as Error).message})`, "give a JSON array of records or JSON lines");
    }
    return parsed.map((value, i) => ({ value, where: `${file} record ${i + 1}` }));
  }
  return parseJsonLines(text).map((r) => {
    const where = `${file}:${r.line}`;
    if (r.ok) return { value: r.value, where };
    return { error: recordError(where, `not valid JSON (${r.error})`, "each line must be one JSON object"), where };
  });
}

function field(obj: Record<string, unknown>, name: string, where: string, required: boolean): string | undefined {
  const v = obj[name];
  if (v === undefined || v === null) {
    if (!required) return undefined;
    const have = Object.keys(obj).join(", ") || "none";
    throw recordError(
      where,
      `field "${name}" is missing (fields: ${have})`,
      "name the columns with --instruction-column, --input-column, --output-column",
      name,
      true,
    );
  }
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v !== "string") {
    throw recordError(
      where,
      `field "${name}" is ${Array.isArray(v) ? "an array" : typeof v}, expected text`,
      "each field must be a string",
      name,
    );
  }
  return v;
}

/** `cols`: the file's columns (the user's and the guessed); `inputRequired`: the user named the input column. */
function instructionRecord(
  obj: Record<string, unknown>,
  where: string,
  cols: ColumnMap,
  inputRequired: boolean,
): TrainRecord {
  const instruction = field(obj, cols.instruction ?? "instruction", where, true)!;
  const output = field(obj, cols.output ?? "output", where, true)!;
  const input = field(obj, cols.input ?? "input", where, inputRequired) ?? "";
  const system = cols.system ? field(obj, cols.system, where, true) : undefined;
  if (output.trim() === "")
    throw recordError(
      where,
      `field "${cols.output ?? "output"}" is empty`,
      "every record needs a response to learn",
      cols.output ?? "output",
    );
  return { kind: "instruction", instruction, input, output, where, ...(system !== undefined ? { system } : {}) };
}

/** `{prompt: [...], response: [...]}` turn lists (LIMA-style) as alternating user/assistant messages. */
function turnLists(obj: Record<string, unknown>): unknown {
  const list = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : typeof v === "string" ? [v] : undefined);
  const p = list(obj["prompt"]);
  const r = list(obj["response"]);
  if (!p || !r) return undefined;
  return p.flatMap((u: unknown, i) => [
    { role: "user", content: u },
    ...(i < r.length ? [{ role: "assistant", content: r[i] }] : []),
  ]);
}

function chatRecord(obj: Record<string, unknown>, where: string): TrainRecord {
  const msgs = obj["messages"] ?? obj["conversations"] ?? turnLists(obj);
  if (!Array.isArray(msgs))
    throw recordError(
      where,
      `field "messages" is ${msgs === undefined ? "missing" : "not an array"}`,
      'chat records look like {"messages": [{"role": "user", "content": "…"}, …]}',
      "messages",
    );
  const messages: ChatMessage[] = msgs.map((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (typeof m !== "object" || m === null)
      throw recordError(where, `${at} is not an object`, "each message is {role, content}", at);
    const o = m as Record<string, unknown>;
    const role = o["role"] ?? o["from"];
    const content = o["content"] ?? o["value"];
    if (!isChatRole(role))
      throw recordError(
        where,
        `${at}.role is ${JSON.stringify(role)}`,
        "roles are system, user or assistant",
        `${at}.role`,
      );
    if (typeof content !== "string")
      throw recordError(
        where,
        `${at}.content is ${content === undefined ? "missing" : typeof content}`,
        "content must be text",
        `${at}.content`,
      );
    return { role, content };
  });
  if (!messages.some((m) => m.role === "assistant"))
    throw recordError(
      where,
      "no assistant message",
      "a chat record needs at least one assistant turn to learn",
      "messages",
    );
  return { kind: "chat", messages, where };
}

function detect(file: string, first: unknown): Exclude<DatasetFormat, "auto"> {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv" || ext === ".tsv") return "csv";
  if (ext === ".txt" || ext === ".md" || ext === ".text") return "text";
  const o = (first ?? {}) as Record<string, unknown>;
  if ("messages" in o || "conversations" in o || Array.isArray(o["prompt"])) return "chat";
  return "alpaca";
}

/** Collects skipped records when skipping; rethrows otherwise (and always for errors other than a bad record). */
function skipper(skip: boolean): { report: SkipReport; onBad: (e: unknown) => void; cause: () => unknown } {
  const report = emptySkipReport();
  let firstError: unknown;
  const onBad = (e: unknown): void => {
    if (!skip || !isInfuseError(e) || e.code !== "train.bad_record") throw e;
    firstError ??= e;
    report.count++;
    if (report.first.length < SKIPPED_SHOWN) {
      const field = e.details["field"];
      report.first.push({
        record: String(e.details["record"]),
        ...(typeof field === "string" ? { field } : {}),
        message: e.message,
      });
    }
  };
  return { report, onBad, cause: () => firstError };
}

/** Reads every record of one dataset file; a bad record is an error naming file, record and field. */
export async function loadRecords(source: DatasetSource): Promise<TrainRecord[]> {
  return (await readRecords(source)).records;
}

/**
 * Reads the records of one dataset file. With `skipBadRecords`, malformed records (bad JSON line, not
 * an object, missing or mistyped field, bad role, CSV row of the wrong width) are skipped and reported;
 * a file where every record is bad is still an error (`train.no_good_records`), as are whole-file faults
 * (unreadable, a broken JSON array, an unclosed CSV quote).
 */
export async function readRecords(
  source: DatasetSource,
  options: LoadOptions = {},
): Promise<{ records: TrainRecord[]; skipped: SkipReport; guessed: GuessedColumns }> {
  const file = source.path;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw new InfuseError("train.no_dataset", `${file}: ${missing ? "no such file" : (e as Error).message}`, {
      kind: missing ? "not_found" : "io",
      cause: e,
    });
  }
  const given = source.columns ?? {};
  const inputRequired = given.input !== undefined;
  let cols = given;
  let guessed: GuessedColumns = {};
  // every field any record has: a field no record has is the file's fault, not a record's
  const fieldsSeen = new Set<string>();
  const guessFrom = (fields: string[]): void => {
    ({ columns: cols, guessed } = mapColumns(fields, given));
  };
  const ext = path.extname(file).toLowerCase();
  const { report, onBad, cause } = skipper(options.skipBadRecords ?? false);
  // Items in file order: a parse error, or a value that makes a record (or throws a record error).
  type Bad = { error: InfuseError; where: string };
  const keep = <T extends object>(items: (T | Bad)[], make: (item: T) => TrainRecord): TrainRecord[] => {
    const out: TrainRecord[] = [];
    for (const item of items) {
      try {
        if ("error" in item) throw item.error;
        out.push(make(item as T));
      } catch (e) {
        onBad(missingColumn(e, fieldsSeen, file));
      }
    }
    return out;
  };
  let format = source.format ?? "auto";
  if (format === "auto" && (ext === ".csv" || ext === ".tsv" || ext === ".txt" || ext === ".md"))
    format = detect(file, null);
  let records: TrainRecord[];
  if (format === "text") records = [{ kind: "text", text, where: file }];
  else if (format === "csv") {
    const rows = parseCsvRecords(text, file, ext === ".tsv" ? "\t" : ",");
    const first = rows.find((r) => "row" in r);
    for (const r of rows) if ("row" in r) for (const k of Object.keys(r.row)) fieldsSeen.add(k);
    guessFrom(first && "row" in first ? Object.keys(first.row) : []);
    records = keep<{ row: Record<string, string>; where: string }>(rows, ({ row, where }) =>
      instructionRecord(row, where, cols, inputRequired),
    );
  } else {
    const objects = jsonObjects(text, file);
    const first = objects.find((o) => "value" in o);
    const fmt = format === "auto" ? detect(file, first && "value" in first ? first.value : undefined) : format;
    for (const o of objects) {
      if ("value" in o && typeof o.value === "object" && o.value !== null)
        for (const k of Object.keys(o.value)) fieldsSeen.add(k);
    }
    if (fmt !== "chat") guessFrom([...fieldsSeen]);
    records = keep<{ value: unknown; where: string }>(objects, ({ value, where }) => {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw recordError(where, "is not a JSON object", "each record is an object");
      const obj = value as Record<string, unknown>;
      return fmt === "chat" ? chatRecord(obj, where) : instructionRecord(obj, where, cols, inputRequired);
    });
  }
  if (records.length === 0 && report.count > 0) {
    throw new InfuseError(
      "train.no_good_records",
      `${file}: all ${report.count} records are malformed; the first: ${report.first[0]!.message}`,
      {
        kind: "input",
        hint: "check --format and the column flags (--instruction-column, --output-column …) against the file",
        details: { file, skipped: report.count },
        cause: cause(),
      },
    );
  }
  return { records, skipped: report, guessed };
}

/**
 * A record's missing field that no record of the file has is a column the file lacks: skipping bad
 * records would reject every one, so the error names the file's fields and the column flags only.
 */
function missingColumn(e: unknown, fieldsSeen: Set<string>, file: string): unknown {
  if (!isInfuseError(e) || e.code !== "train.bad_record" || e.details["missing"] !== true) return e;
  const name = String(e.details["field"]);
  if (fieldsSeen.has(name)) return e;
  const have = [...fieldsSeen].join(", ") || "none";
  return new InfuseError("train.missing_column", `${file}: no record has a field "${name}" (fields: ${have})`, {
    kind: "input",
    hint: "name the columns with --instruction-column, --input-column, --output-column (e.g. --instruction-column question)",
    details: { file, field: name, fields: [...fieldsSeen] },
    cause: e,
  });
}
