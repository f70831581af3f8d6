// One writer per collection: `<collection>/write.lock`, taken with core/lock-file (O_EXCL, the
// writer's pid and a token; a dead writer's lock is taken over; released only while still ours).
import path from "node:path";
import { diskError, InfuseError, isInfuseError, throwIfAborted } from "../../core/errors.js";
import { acquireLockFile, type HeldLock } from "../../core/lock-file.js";
import { makeDir } from "./collections.js";
import type { WriteLock } from "./types.js";

class FileLock implements WriteLock {
  constructor(
    readonly collection: string,
    readonly store: string,
    private readonly lock: HeldLock,
  ) {}

  #held = true;
  get held(): boolean {
    return this.#held;
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.lock.release();
  }
}

/** Takes `<dir>/write.lock` for `collection` of `store`; `rag.collection_busy` if a live process holds it. */
export async function acquireWriteLock(dir: string, collection: string, store: string): Promise<WriteLock> {
  const file = path.join(dir, "write.lock");
  try {
    await makeDir(dir);
    return new FileLock(collection, store, await acquireLockFile(file, (pid) => busy(collection, file, pid)));
  } catch (e) {
    throw diskError(e, file, `lock collection "${collection}" for writing`, "nothing was changed");
  }
}

function busy(collection: string, file: string, pid: number): InfuseError {
  if (pid === 0)
    return new InfuseError("rag.collection_busy", `collection "${collection}" is being locked by another writer`, {
      kind: "io",
      hint: "wait for that writer to finish, then run again",
      details: { collection },
    });
  return new InfuseError("rag.collection_busy", `collection "${collection}" is being written by process ${pid}`, {
    kind: "io",
    hint: `wait for that writer to finish (or stop it); if no infuse process is running, delete ${file}`,
    details: { collection, pid },
  });
}

/** Runs `fn` under the collection's lock: the caller's (checked to be this collection's) or a new one. */
export async function withWriteLock<T>(
  held: WriteLock | undefined,
  take: () => Promise<WriteLock>,
  expect: { collection: string; store: string },
  fn: () => Promise<T>,
): Promise<T> {
  if (held) {
    if (!held.held || held.collection !== expect.collection || held.store !== expect.store) {
      throw new InfuseError(
        "rag.lock_invalid",
        `the lock passed to commit is ${held.held ? `for "${held.collection}" in ${held.store}` : "released"}, not a held lock of "${expect.collection}" in ${expect.store}`,
        {
          kind: "internal",
          hint: "pass the lock from StoreProvider.lock(name) of this collection, before releasing it",
        },
      );
    }
    return fn();
  }
  const lock = await take();
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Takes the lock as soon as the writer holding it lets go (a commit's length, for concurrent
 * ingests), checking every 20–500 ms; `rag.collection_busy` only after `maxWaitMs` (default 10 min).
 */
export async function waitForWriteLock(
  take: () => Promise<WriteLock>,
  signal?: AbortSignal,
  maxWaitMs = 600_000,
): Promise<WriteLock> {
  const deadline = Date.now() + maxWaitMs;
  let pause = 20;
  for (;;) {
    try {
      return await take();
    } catch (e) {
      if (!isInfuseError(e) || e.code !== "rag.collection_busy" || Date.now() + pause > deadline) throw e;
      throwIfAborted(signal, "waiting for the collection's writer");
      await new Promise((r) => setTimeout(r, pause + Math.floor(Math.random() * pause)));
      pause = Math.min(pause * 2, 500);
    }
  }
}
