// The project's one JSON Lines reader: one JSON value per line, blank lines skipped, CRLF or LF,
// each value with its 1-based line number; a line that is not JSON is kept as its error so each
// caller decides (fail with file:line, skip and count, or treat as a torn last write).
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

export type JsonLine = { line: number; ok: true; value: unknown } | { line: number; ok: false; error: string };

function parseLine(text: string, line: number): JsonLine {
  try {
    return { line, ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { line, ok: false, error: (e as Error).message };
  }
}

/** Parses JSONL text held in memory. */
export function parseJsonLines(text: string): JsonLine[] {
  const out: JsonLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    out.push(parseLine(raw, i + 1));
  }
  return out;
}

/** Streams a JSONL file line by line (bounded memory on large corpora). */
export async function* readJsonLines(file: string): AsyncGenerator<JsonLine> {
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of lines) {
    line++;
    if (raw.trim() === "") continue;
    yield parseLine(raw, line);
  }
}
