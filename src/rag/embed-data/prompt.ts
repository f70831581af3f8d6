// The prompt that asks an LLM for queries, and what its answer must be. The prompt is a text file
// (query-prompt.txt beside this module, copied to dist by the build; `--prompt FILE` replaces it)
// with {n}, {title} and {passage} filled in. The answer must hold one JSON object
// `{"query": string | string[], "positive"?: string[]}` (FlagEmbedding's shape); anything else is
// malformed. The pair's positive is always the whole passage: "positive" only grounds the answer.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InfuseError } from "../../core/errors.js";
import type { Passage } from "./passages.js";

export const PROMPT_FILE_NAME = "query-prompt.txt";

/** The shipped prompt's path: beside this module (src/ under tsx, dist/ once built). */
export function defaultPromptFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, PROMPT_FILE_NAME);
  if (existsSync(beside)) return beside;
  // a build that did not copy the asset: the source tree's copy, if this is a checkout
  const source = path.resolve(here, "../../../src/rag/embed-data", PROMPT_FILE_NAME);
  return existsSync(source) ? source : beside;
}

/** The prompt template: `file`, or the shipped default. It must contain {passage}. */
export async function loadPromptTemplate(file?: string): Promise<{ template: string; file: string }> {
  const chosen = file ?? defaultPromptFile();
  let template: string;
  try {
    template = await readFile(chosen, "utf8");
  } catch (e) {
    throw new InfuseError("embed.prompt_unreadable", `cannot read the prompt file ${chosen}`, {
      kind: (e as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io",
      hint: file
        ? "check the --prompt path"
        : "the installed package lacks query-prompt.txt: reinstall, or pass --prompt FILE",
      cause: e,
      details: { file: chosen },
    });
  }
  if (!template.includes("{passage}"))
    throw new InfuseError("embed.prompt_no_passage", `the prompt file ${chosen} has no {passage} placeholder`, {
      kind: "usage",
      hint: "write {passage} where the passage goes (and {n} for the number of queries, {title} for its title)",
      details: { file: chosen },
    });
  return { template, file: chosen };
}

/** The template with the passage filled in (one pass, so a passage holding "{n}" stays as written). */
export function renderPrompt(template: string, passage: Passage, n: number): string {
  const values: Record<string, string> = { n: String(n), title: passage.title ?? "", passage: passage.text };
  return template.replace(/\{(n|title|passage)\}/g, (_, key: string) => values[key]!);
}

export type ParsedAnswer = { ok: true; queries: string[] } | { ok: false; reason: string };

/** The first balanced {...} of a reply (models wrap JSON in prose or ``` fences), or undefined. */
function firstObject(reply: string): string | undefined {
  const start = reply.indexOf("{");
  if (start < 0) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < reply.length; i++) {
    const ch = reply[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return reply.slice(start, i + 1);
  }
  return undefined;
}

/** The queries of an answer (at most `n`, blank and repeated ones out), or why it is malformed. */
export function parseAnswer(reply: string, n: number): ParsedAnswer {
  const json = firstObject(reply);
  if (json === undefined) return { ok: false, reason: "no JSON object in the answer" };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    return { ok: false, reason: `not valid JSON: ${(e as Error).message}` };
  }
  const o = value as Record<string, unknown>;
  const q = o["query"];
  const list = typeof q === "string" ? [q] : q;
  if (!Array.isArray(list) || list.some((x) => typeof x !== "string"))
    return { ok: false, reason: '"query" is not a string or a list of strings' };
  const positive = o["positive"];
  if (positive !== undefined && (!Array.isArray(positive) || positive.some((x) => typeof x !== "string")))
    return { ok: false, reason: '"positive" is not a list of strings' };
  const seen = new Set<string>();
  const queries: string[] = [];
  for (const raw of list as string[]) {
    const s = raw.replace(/\s+/g, " ").trim();
    if (s === "" || seen.has(s.toLowerCase())) continue;
    seen.add(s.toLowerCase());
    queries.push(s);
  }
  if (queries.length === 0) return { ok: false, reason: '"query" holds no query' };
  return { ok: true, queries: queries.slice(0, n) };
}
