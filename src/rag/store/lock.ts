// One writer per collection: a lock file created exclusively (O_EXCL) holding the writer's pid
// and a token of this lock. A lock whose process is gone is stale and taken over; releasing
// removes the file only while it is still this lock's. Local disk only (no NFS semantics).
import { randomUUID } from "node:crypto";
import { open, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { diskError, InfuseError } from "../../core/errors.js";
import { makeDir } from "./collections.js";
import type { WriteLock } from "./types.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

class FileLock implements WriteLock {
  #held = true;
  constructor(
    readonly collection: string,
    readonly store: string,
    private readonly file: string,
    private readonly token: string,
  ) {}

  get held(): boolean {
    return this.#held;
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    const content = await readFile(this.file, "utf8").catch(() => "");
    if (content.includes(this.token)) await unlink(this.file).catch(() => undefined);
  }
}

/** Takes `<dir>/write.lock` for `collection` of `store`; `rag.collection_busy` if a live process holds it. */
export async function acquireWriteLock(dir: string, collection: string, store: string): Promise<WriteLock> {
  const file = path.join(dir, "write.lock");
  try {
    return await takeLock(dir, file, collection, store);
  } catch (e) {
    throw diskError(e, file, `lock collection "${collection}" for writing`, "nothing was changed");
  }
}

async function takeLock(dir: string, file: string, collection: string, store: string): Promise<WriteLock> {
  await makeDir(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx");
      const token = randomUUID();
      try {
        await handle.writeFile(`${process.pid} ${token}`);
      } catch (e) {
        await unlink(file).catch(() => undefined); // an empty lock file would block every writer
        throw e;
      } finally {
        await handle.close();
      }
      return new FileLock(collection, store, file, token);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number((await readFile(file, "utf8").catch(() => "")).trim().split(/\s+/)[0]);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new InfuseError("rag.collection_busy", `collection "${collection}" is being written by process ${pid}`, {
          kind: "io",
          hint: `wait for that writer to finish (or stop it); if no infuse process is running, delete ${file}`,
          details: { collection, pid },
        });
      }
      await unlink(file).catch(() => undefined); // stale: its writer is gone
    }
  }
  throw new InfuseError("rag.collection_busy", `could not lock collection "${collection}"`, { kind: "io" });
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
