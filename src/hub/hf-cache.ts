// A Hugging Face hub cache that the Python libraries (or huggingface-cli) already filled:
// `<cache>/models--OWNER--NAME/refs/REVISION` holds a commit, `snapshots/COMMIT/` the files (links
// into blobs/). infuse reads a model from there before downloading it again; it never writes there.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { HubReference } from "./reference.js";

/** The snapshot folder of `ref` in the HF cache at `cacheDir`, when the cache has it. */
export async function hfCacheSnapshot(cacheDir: string | undefined, ref: HubReference): Promise<string | undefined> {
  if (cacheDir === undefined) return undefined;
  const repoDir = path.join(cacheDir, `models--${ref.repo.replace("/", "--")}`);
  const revision = ref.revision;
  // a commit names its snapshot directly; a branch or tag is resolved through refs/
  const commit = /^[0-9a-f]{40}$/.test(revision)
    ? revision
    : await readFile(path.join(repoDir, "refs", revision), "utf8").then(
        (t) => t.trim(),
        () => undefined,
      );
  if (commit === undefined || !/^[0-9a-f]{40}$/.test(commit)) return undefined;
  const snapshot = path.join(repoDir, "snapshots", commit);
  return (await isFolder(snapshot)) ? snapshot : undefined;
}

/** Is `file` (a hub path, POSIX separators) a readable file in `snapshot`? Links are followed. */
export async function hfCacheHas(snapshot: string, file: string): Promise<boolean> {
  return stat(path.join(snapshot, ...file.split("/"))).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function isFolder(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
