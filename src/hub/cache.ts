// The on-disk layout of downloaded models:
//   {cache}/hub/{owner}--{repo}/{revision}/{file}          complete, verified files only
//   {cache}/hub/{owner}--{repo}/.partial/{revision}/{file}.part   bytes of an unfinished download
//   {cache}/hub/{owner}--{repo}/.manifest/{revision}.json  the files of a whole-repo download
// A revision with slashes (refs/pr/1) is one folder, `refs%2Fpr%2F1`. Names are checked by
// reference.ts; every path built here is checked once more to stay inside its folder.
import { readFile, writeFile, mkdir, rename, access } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { cacheWriteError } from "./download.js";
import { repoPathProblem, type HubReference } from "./reference.js";

export class HubCache {
  constructor(readonly root: string) {}

  repoDir(repo: string): string {
    return path.join(this.root, "hub", repo.replace("/", "--"));
  }

  snapshotDir(ref: Pick<HubReference, "repo" | "revision">): string {
    return inside(path.join(this.root, "hub"), path.join(this.repoDir(ref.repo), revisionFolder(ref.revision)));
  }

  filePath(ref: Pick<HubReference, "repo" | "revision">, file: string): string {
    return inside(this.snapshotDir(ref), path.join(this.snapshotDir(ref), ...segments(file)));
  }

  partPath(ref: Pick<HubReference, "repo" | "revision">, file: string): string {
    const dir = path.join(this.repoDir(ref.repo), ".partial", revisionFolder(ref.revision));
    return inside(dir, path.join(dir, ...segments(file)) + ".part");
  }

  async has(ref: Pick<HubReference, "repo" | "revision">, file: string): Promise<boolean> {
    return access(this.filePath(ref, file)).then(
      () => true,
      () => false,
    );
  }

  private manifestPath(ref: Pick<HubReference, "repo" | "revision">): string {
    return path.join(this.repoDir(ref.repo), ".manifest", `${revisionFolder(ref.revision)}.json`);
  }

  /** The file list of a completed whole-repo download, if every file is still there. */
  async readManifest(ref: Pick<HubReference, "repo" | "revision">): Promise<string[] | undefined> {
    try {
      const files = JSON.parse(await readFile(this.manifestPath(ref), "utf8")) as string[];
      for (const f of files) if (!(await this.has(ref, f))) return undefined;
      return files;
    } catch {
      return undefined;
    }
  }

  async writeManifest(ref: Pick<HubReference, "repo" | "revision">, files: string[]): Promise<void> {
    const target = this.manifestPath(ref);
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target + ".tmp", JSON.stringify(files));
      await rename(target + ".tmp", target);
    } catch (e) {
      throw cacheWriteError(e, target);
    }
  }
}

function revisionFolder(revision: string): string {
  return encodeURIComponent(revision);
}

function segments(file: string): string[] {
  const why = repoPathProblem(file);
  if (why) throw unsafePath(file, why);
  return file.split("/");
}

/** `target`, if it lies strictly inside `dir`. */
function inside(dir: string, target: string): string {
  const rel = path.relative(dir, target);
  const up = rel === ".." || rel.startsWith(`..${path.sep}`);
  if (rel === "" || up || path.isAbsolute(rel)) throw unsafePath(target, `is outside ${dir}`);
  return target;
}

function unsafePath(file: string, why: string): InfuseError {
  return new InfuseError("hub.unsafe_path", `refusing the repository file "${file}": it ${why}`, {
    kind: "network",
    hint: "the hub or mirror named a file that would be written outside the model cache; check HF_ENDPOINT",
    details: { file },
  });
}
