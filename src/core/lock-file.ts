// A lock file for one writer of a folder: created exclusively (O_EXCL) with the holder's pid and a
// token. A lock whose process is gone is stale and taken over; releasing removes the file only while
// it is still this lock's. Local disk only (no NFS semantics). Collections' writer locks and
// training run folders both take theirs here.
import { randomUUID } from "node:crypto";
import { open, readFile, unlink } from "node:fs/promises";
import type { InfuseError } from "./errors.js";

export interface HeldLock {
  readonly file: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `file` (its folder must exist); when a live process holds it, throws what `busy(pid)` makes.
 * The holder's own process counts as live: a second lock of one folder in one process is refused too.
 */
export async function acquireLockFile(file: string, busy: (pid: number) => InfuseError): Promise<HeldLock> {
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
      let held = true;
      return {
        file,
        async release() {
          if (!held) return;
          held = false;
          const content = await readFile(file, "utf8").catch(() => "");
          if (content.includes(token)) await unlink(file).catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const content = await readFile(file, "utf8").catch(() => null);
      if (content === null) continue; // released meanwhile
      // empty: its holder created it a moment ago and is writing its pid
      if (content.trim() === "") throw busy(0);
      const pid = Number(content.trim().split(/\s+/)[0]);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw busy(pid);
      await unlink(file).catch(() => undefined); // stale: its holder is gone
    }
  }
  throw busy(0);
}
