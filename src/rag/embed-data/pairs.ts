// Writing the training-pairs file both halves of embedding tuning share (its format and its one
// checker live with training, in train/embed/pairs.ts): writing appends whole lines, so an
// interrupted run leaves a readable file.
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import { readJsonLines, type JsonLine } from "../../formats/jsonl.js";
import type { Pair } from "../../train/embed/pairs.js";

export { badPairLine, checkPair, readPairs, type Pair } from "../../train/embed/pairs.js";

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
