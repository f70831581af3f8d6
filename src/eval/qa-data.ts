// Question/answer data for `eval answers`: SQuAD JSON (v1 and v2: an unanswerable question has no
// reference; the paragraph is the context), JSONL or a JSON array of objects, and CSV with a header.
// Fields are found by the usual names (question/query, answer/answers/reference, context/evidence_text,
// prediction) or named; an empty answer ("" or []) or is_impossible marks a question unanswerable.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { parseCsv } from "../formats/csv.js";
import { parseJsonLines } from "../formats/jsonl.js";

export interface QaItem {
  id: string;
  question: string;
  /** Reference answers; metrics take the best match. Empty: unanswerable (the right answer is an abstention). */
  references: string[];
  /** The passage(s) the answer comes from, when the data has them. */
  context?: string;
  /** An answer to score as given (no generation). */
  prediction?: string;
}

export interface QaFields {
  question?: string;
  answer?: string;
  context?: string;
  prediction?: string;
}

const CANDIDATES = {
  question: ["question", "query", "prompt", "instruction"],
  answer: ["answers", "answer", "reference", "ground_truth", "output", "response"],
  context: ["context", "evidence_text", "evidence", "passage", "contexts"],
  prediction: ["prediction", "predicted", "generated"],
};

export async function loadQaData(file: string, fields: QaFields = {}): Promise<QaItem[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InfuseError("eval.qa_unreadable", `cannot read ${file}`, {
      kind: (e as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io",
      cause: e,
    });
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv") return fromRows(csvObjects(text, file), file, fields);
  if (ext === ".jsonl") return fromRows(jsonlObjects(text, file), file, fields);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InfuseError("eval.qa_invalid", `${file} is not valid JSON: ${(e as Error).message}`, {
      kind: "input",
      hint: "use SQuAD JSON, a JSON array of objects, JSONL (.jsonl) or CSV (.csv)",
      cause: e,
    });
  }
  if (isSquad(json)) return fromSquad(json);
  if (Array.isArray(json))
    return fromRows(
      json.map((r, i) => ({ row: r as unknown, line: i + 1 })),
      file,
      fields,
    );
  throw new InfuseError("eval.qa_invalid", `${file}: expected SQuAD JSON ({"data": [...]}) or an array of objects`, {
    kind: "input",
    hint: "use SQuAD JSON, a JSON array of objects, JSONL (.jsonl) or CSV (.csv)",
  });
}

interface Row {
  row: unknown;
  /** 1-based line (JSONL, CSV) or array index + 1 (JSON). */
  line: number;
}

function fromRows(rows: Row[], file: string, fields: QaFields): QaItem[] {
  const items: QaItem[] = [];
  for (const { row, line } of rows) {
    if (typeof row !== "object" || row === null || Array.isArray(row))
      throw new InfuseError("eval.qa_invalid", `${file}:${line}: expected an object`, { kind: "input" });
    const r = row as Record<string, unknown>;
    const present = (k: string): boolean => r[k] !== undefined && r[k] !== null;
    const pick = (kind: keyof typeof CANDIDATES): string | undefined =>
      fields[kind] ?? CANDIDATES[kind].find((k) => present(k) && r[k] !== "");
    const q = pick("question");
    // an answer field that is there but empty ("" or []) is an unanswerable question
    const a = pick("answer") ?? CANDIDATES.answer.find(present);
    for (const [kind, key] of [
      ["question", q],
      ["answer", a],
    ] as const) {
      if (key === undefined || r[key] === undefined)
        throw new InfuseError("eval.qa_missing_field", `${file}:${line}: no ${kind} field`, {
          kind: "input",
          hint: `name it with --${kind}-field (looked for ${(fields[kind] ? [fields[kind]] : CANDIDATES[kind]).join(", ")})`,
          details: { file, line, field: kind },
        });
    }
    const c = pick("context");
    const p = pick("prediction");
    items.push({
      id: typeof r["id"] === "string" || typeof r["id"] === "number" ? String(r["id"]) : String(line),
      question: String(r[q!]),
      references: r["is_impossible"] === true ? [] : toStrings(r[a!]).filter((x) => x.trim() !== ""),
      ...(c !== undefined && r[c] !== undefined ? { context: toStrings(r[c]).join("\n\n") } : {}),
      ...(p !== undefined && r[p] !== undefined ? { prediction: String(r[p]) } : {}),
    });
  }
  return items;
}

/** A string, an array of strings, or SQuAD-style [{text}] objects. */
function toStrings(v: unknown): string[] {
  if (Array.isArray(v))
    return v.map((x) => (typeof x === "object" && x !== null && "text" in x ? String(x.text) : String(x)));
  return [String(v)];
}

function csvObjects(text: string, file: string): Row[] {
  const { header, rows, unclosedQuoteLine } = parseCsv(text);
  // an unclosed quote swallows every later row into one field: never score that silently
  if (unclosedQuoteLine !== undefined)
    throw new InfuseError("eval.qa_invalid", `${file}:${unclosedQuoteLine}: a quoted field is never closed`, {
      kind: "input",
      hint: 'close the field with " (a quote inside a field is written "")',
    });
  return rows.map(({ cells, line }) => ({
    row: Object.fromEntries(header.map((h, j) => [h.trim(), cells[j] ?? ""])),
    line,
  }));
}

function jsonlObjects(text: string, file: string): Row[] {
  return parseJsonLines(text).map((r) => {
    if (!r.ok)
      throw new InfuseError("eval.qa_invalid", `${file}:${r.line}: not valid JSON: ${r.error}`, {
        kind: "input",
        hint: "a JSONL file holds one JSON object per line",
      });
    return { row: r.value, line: r.line };
  });
}

interface Squad {
  data: { title?: string; paragraphs: { context: string; qas: SquadQa[] }[] }[];
}
interface SquadQa {
  id: string;
  question: string;
  answers: { text: string }[];
  is_impossible?: boolean;
}

function isSquad(json: unknown): json is Squad {
  return typeof json === "object" && json !== null && Array.isArray((json as { data?: unknown }).data);
}

/** SQuAD questions, the paragraph as context; an unanswerable one (v2 is_impossible) has no reference. */
function fromSquad(json: Squad): QaItem[] {
  return json.data.flatMap((article) =>
    article.paragraphs.flatMap((p) =>
      p.qas.map((qa) => ({
        id: qa.id,
        question: qa.question,
        references: qa.is_impossible ? [] : [...new Set(qa.answers.map((a) => a.text))],
        context: p.context,
      })),
    ),
  );
}
