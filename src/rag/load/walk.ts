// Folder walks: files under a root matching include/exclude globs (picomatch), yielded lazily
// in sorted path order (one directory listing held at a time), so 50,000 files cost no more
// memory than one folder's names.
import { opendir, stat } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
import { InfuseError, throwIfAborted } from "../../core/errors.js";

export const DEFAULT_EXCLUDE = ["**/node_modules/**", "**/.*", "**/.*/**"];

/**
 * What a walk includes when no include globs are given: every file (hidden ones and node_modules
 * are excluded by DEFAULT_EXCLUDE), so ingest can list the ones no loader reads as skipped.
 */
export function defaultInclude(): string[] {
  return ["**/*"];
}

export interface WalkOptions {
  include?: string[];
  exclude?: string[];
  signal?: AbortSignal;
}

export interface FoundFile {
  /** Absolute path. */
  file: string;
  /** Path relative to the root, POSIX separators (a single file: its base name). */
  source: string;
  size: number;
}

/** A target's root (the folder, or a single file's folder) and whether it is a folder. */
export async function walkRoot(target: string): Promise<{ root: string; folder: boolean; size: number }> {
  const abs = path.resolve(target);
  try {
    const info = await stat(abs);
    return info.isFile()
      ? { root: path.dirname(abs), folder: false, size: info.size }
      : { root: abs, folder: true, size: 0 };
  } catch (e) {
    throw new InfuseError("rag.path_not_found", `${target} does not exist`, { kind: "not_found", cause: e });
  }
}

/** The files of a folder (or the one file named), in path order. */
export async function* walkFiles(target: string, options: WalkOptions = {}): AsyncGenerator<FoundFile> {
  const { root, folder, size } = await walkRoot(target);
  if (!folder) {
    yield { file: path.resolve(target), source: path.basename(target), size };
    return;
  }
  const include = picomatch(options.include ?? defaultInclude(), { dot: true, nocase: true });
  const exclude = picomatch(
    options.exclude && options.exclude.length > 0 ? [...DEFAULT_EXCLUDE, ...options.exclude] : DEFAULT_EXCLUDE,
    { dot: true },
  );
  async function* walk(dir: string): AsyncGenerator<FoundFile> {
    throwIfAborted(options.signal, "scanning folders");
    // sorting names with a "/" after folders gives the order of the full relative paths
    const entries: { name: string; sortKey: string; dir: boolean }[] = [];
    for await (const entry of await opendir(dir)) {
      if (entry.isDirectory()) entries.push({ name: entry.name, sortKey: entry.name + "/", dir: true });
      else if (entry.isFile()) entries.push({ name: entry.name, sortKey: entry.name, dir: false });
    }
    entries.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const source = path.relative(root, full).split(path.sep).join("/");
      if (exclude(source) || exclude(source + "/")) continue;
      if (entry.dir) yield* walk(full);
      else if (include(source)) {
        const info = await stat(full).catch(() => undefined); // gone since the listing: skip
        if (info) yield { file: full, source, size: info.size };
      }
    }
  }
  yield* walk(root);
}

/** The root folder sources are relative to, and all files to load, sorted by source. */
export async function findFiles(
  target: string,
  options: WalkOptions = {},
): Promise<{ root: string; files: FoundFile[] }> {
  const { root } = await walkRoot(target);
  const files: FoundFile[] = [];
  for await (const f of walkFiles(target, options)) files.push(f);
  return { root, files };
}
