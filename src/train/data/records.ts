// Training records from files: Alpaca JSON/JSONL (instruction/input/output), chat JSONL (`messages`
// with roles), CSV or JSON(L) with user-named columns, and raw text. Every bad record is an error
// naming the file, the record (line) and the field. Leaves out Parquet and remote datasets.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import type { ChatMessage } from "../../tokenizers/chat.js";
import { parseCsvRecords } from "./csv.js";

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

const ROLES = new Set(["system", "user", "assistant"]);

function recordError(where: string, message: string, hint: string, field?: string): InfuseError {
  return new InfuseError("train.bad_record", `${where}: ${message}`, {
    kind: "input",
    hint,
    details: { record: where, ...(field ? { field } : {}) },
  });
}

/** One JSON object per line (JSONL) or one JSON array; each with where = file:line or file[index]. */
function jsonObjects(text: string, file: string): { value: unknown; where: string }[] {
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
  const out: { value: unknown; where: string }[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${file}:${i + 1}`;
    try {
      out.push({ value: JSON.parse(line), where });
    } catch (e) {
      throw recordError(where, `not valid JSON (${(e as Error).message})`, "each line must be one JSON object");
    }
  });
  return out;
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

function instructionRecord(obj: Record<string, unknown>, where: string, given: ColumnMap): TrainRecord {
  // {prompt, response} records (vi-alpaca) need no column flags.
  const cols =
    !given.instruction && !("instruction" in obj) && "prompt" in obj && "response" in obj
      ? { instruction: "prompt", output: "response", ...given }
      : given;
  const instruction = field(obj, cols.instruction ?? "instruction", where, true)!;
  const output = field(obj, cols.output ?? "output", where, true)!;
  const input = field(obj, cols.input ?? "input", where, cols.input !== undefined) ?? "";
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
    if (typeof role !== "string" || !ROLES.has(role))
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

/** Reads every record of one dataset file. */
export async function loadRecords(source: DatasetSource): Promise<TrainRecord[]> {
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
  const cols = source.columns ?? {};
  const ext = path.extname(file).toLowerCase();
  let format = source.format ?? "auto";
  if (format === "auto" && (ext === ".csv" || ext === ".tsv" || ext === ".txt" || ext === ".md"))
    format = detect(file, null);
  if (format === "text") return [{ kind: "text", text, where: file }];
  if (format === "csv") {
    return parseCsvRecords(text, file, ext === ".tsv" ? "\t" : ",").map(({ row, where }) =>
      instructionRecord(row, where, cols),
    );
  }
  const objects = jsonObjects(text, file);
  if (format === "auto") format = detect(file, objects[0]?.value);
  return objects.map(({ value, where }) => {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw recordError(where, "is not a JSON object", "each record is an object");
    const obj = value as Record<string, unknown>;
    return format === "chat" ? chatRecord(obj, where) : instructionRecord(obj, where, cols);
  });
}
