// Reads relevance judgments: BEIR's TSV (`query-id corpus-id score`, header optional) and TREC
// qrels (`qid 0 docid rel`, whitespace separated). Every bad line is an error naming file and line.
import { readFile } from "node:fs/promises";
import { InfuseError } from "../core/errors.js";
import type { Qrels } from "./metrics.js";

/** Parses qrels text; `file` is only used in error messages. */
export function parseQrels(text: string, file: string): Qrels {
  const qrels: Qrels = new Map();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const lineNo = index + 1;
    if (line === "" || line.startsWith("#")) return;
    const fields = line.includes("\t") ? line.split("\t").map((f) => f.trim()) : line.split(/\s+/);
    if (lineNo === 1 && /^(query-id|query_id|qid)$/i.test(fields[0] ?? "")) return; // BEIR header
    let qid: string, docid: string, rel: string;
    if (fields.length === 3) [qid, docid, rel] = fields as [string, string, string];
    else if (fields.length === 4) [qid, , docid, rel] = fields as [string, string, string, string];
    else
      throw new InfuseError(
        "eval.qrels_invalid",
        `${file}:${lineNo}: expected 3 fields (query-id, corpus-id, score) or 4 (TREC: qid, 0, docid, rel), got ${fields.length}`,
        {
          kind: "input",
          hint: "separate fields with tabs; BEIR qrels are `query-id<TAB>corpus-id<TAB>score`",
          details: { file, line: lineNo },
        },
      );
    const grade = Number(rel);
    if (rel === "" || !Number.isInteger(grade))
      throw new InfuseError("eval.qrels_invalid", `${file}:${lineNo}: score "${rel}" is not an integer`, {
        kind: "input",
        hint: "the score field holds the graded relevance: 0 (not relevant), 1, 2, ...",
        details: { file, line: lineNo, field: "score" },
      });
    let judged = qrels.get(qid);
    if (!judged) qrels.set(qid, (judged = new Map()));
    if (judged.has(docid))
      throw new InfuseError("eval.qrels_invalid", `${file}:${lineNo}: query ${qid} judges document ${docid} twice`, {
        kind: "input",
        hint: "keep one line per (query, document) pair",
        details: { file, line: lineNo, field: "corpus-id" },
      });
    judged.set(docid, grade);
  });
  return qrels;
}

export async function loadQrels(file: string): Promise<Qrels> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw new InfuseError("eval.qrels_unreadable", `cannot read qrels file ${file}`, {
      kind: missing ? "not_found" : "io",
      ...(missing ? { hint: "BEIR data keeps judgments in qrels/<split>.tsv; check --split and the folder" } : {}),
      cause: e,
    });
  }
  return parseQrels(text, file);
}
