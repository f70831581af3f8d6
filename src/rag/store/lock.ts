// One writer per collection: a lock file created exclusively (O_EXCL) holding the writer's pid.
// A lock whose process is gone is stale and taken over. Local disk only (no NFS semantics).
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes `<dir>/write.lock`; the returned function releases it. */
export async function acquireWriteLock(dir: string, collection: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, "write.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(file).catch(() => undefined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new InfuseError("rag.collection_busy", `collection "${collection}" is being written by process ${pid}`, {
          kind: "io",
          hint: `wait for that ingest to finish (or stop it); if no infuse process is running, delete ${file}`,
          details: { collection, pid },
        });
      }
      await unlink(file).catch(() => undefined); // stale: its writer is gone
    }
  }
  throw new InfuseError("rag.collection_busy", `could not lock collection "${collection}"`, { kind: "io" });
}
