// The on-disk layout of downloaded models:
//   {cache}/hub/{owner}--{repo}/{revision}/{file}          complete, verified files only
//   {cache}/hub/{owner}--{repo}/.partial/{revision}/{file}.part   bytes of an unfinished download
//   {cache}/hub/{owner}--{repo}/.manifest/{revision}.json  the files of a whole-repo download
import { readFile, writeFile, mkdir, rename, access } from "node:fs/promises";
import path from "node:path";
import { ioError } from "./download.js";
import type { HubReference } from "./reference.js";

export class HubCache {
  constructor(readonly root: string) {}

  repoDir(repo: string): string {
    return path.join(this.root, "hub", repo.replace("/", "--"));
  }

  snapshotDir(ref: Pick<HubReference, "repo" | "revision">): string {
    return path.join(this.repoDir(ref.repo), ref.revision);
  }

  filePath(ref: Pick<HubReference, "repo" | "revision">, file: string): string {
    return path.join(this.snapshotDir(ref), ...file.split("/"));
  }

  partPath(ref: Pick<HubReference, "repo" | "revision">, file: string): string {
    return path.join(this.repoDir(ref.repo), ".partial", ref.revision, ...file.split("/")) + ".part";
  }

  async has(ref: Pick<HubReference, "repo" | "revision">, file: string): Promise<boolean> {
    return access(this.filePath(ref, file)).then(
      () => true,
      () => false,
    );
  }

  private manifestPath(ref: Pick<HubReference, "repo" | "revision">): string {
    return path.join(this.repoDir(ref.repo), ".manifest", `${ref.revision}.json`);
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
      throw ioError(e, target) ?? e;
    }
  }
}
