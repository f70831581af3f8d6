// What `generateQueries` and `mineNegatives` share: work on items with N in flight whose results
// are written in item order (so an output file is a prefix of the full run and resumes by count),
// and reading back what an earlier, interrupted run wrote.
import { existsSync } from "node:fs";
import { readFile, truncate } from "node:fs/promises";
import PQueue from "p-queue";
import { throwIfAborted } from "../../core/errors.js";
import { badPairLine, checkPair, type Pair } from "./pairs.js";

/**
 * Runs `work` on every item, `concurrency` at a time, and hands results to `emit` in item order.
 * Stops at the first error (or abort) after the work in flight settles; what was emitted stays.
 */
export async function runInOrder<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
  emit: (result: R, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const queue = new PQueue({ concurrency });
  const ready = new Map<number, R>();
  let next = 0;
  let failure: unknown;
  let writing = Promise.resolve();
  const flush = async () => {
    while (ready.has(next)) {
      const r = ready.get(next)!;
      ready.delete(next);
      await emit(r, next);
      next++;
    }
  };
  for (let i = 0; i < items.length; i++) {
    await queue.onSizeLessThan(concurrency);
    if (failure !== undefined || signal?.aborted) break;
    const index = i;
    void queue.add(async () => {
      try {
        ready.set(index, await work(items[index]!, index));
        writing = writing.then(flush);
        await writing;
      } catch (e) {
        failure ??= e;
      }
    });
  }
  await queue.onIdle();
  await writing;
  if (failure !== undefined) throw failure;
  throwIfAborted(signal, "the run");
}

/**
 * The pairs an earlier run left in `file` (none if it does not exist). A torn last line (the run
 * was killed mid-write) is cut off the file; a bad line before it is an error naming file:line.
 */
export async function resumePairs(file: string): Promise<Pair[]> {
  if (!existsSync(file)) return [];
  const text = await readFile(file, "utf8");
  const pairs: Pair[] = [];
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const last = i === lines.length - 1;
    if (raw.trim() !== "") {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (e) {
        if (last || lines.slice(i + 1).every((l) => l.trim() === "")) {
          await truncate(file, Buffer.byteLength(text.slice(0, offset)));
          break;
        }
        throw badPairLine(file, i + 1, undefined, `not valid JSON: ${(e as Error).message}`);
      }
      pairs.push(checkPair(value, file, i + 1));
    }
    offset += raw.length + 1;
  }
  return pairs;
}
