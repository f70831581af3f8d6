// The crawl's state file: the current run's frontier, seen set and the pages it has yielded (so
// Ctrl-C and `--resume` continue where it stopped), and every page's validators (ETag,
// Last-Modified), content hash and links (so a later crawl asks with a conditional GET, keeps
// unchanged pages without reading them and still follows their links). Written atomically.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, diskError } from "../../../core/errors.js";

export interface PageRecord {
  /** The URL it was fetched from (the key may be its canonical URL). */
  url: string;
  hash: string;
  title: string;
  mediaType: string;
  etag?: string;
  lastModified?: string;
  links: string[];
}

export interface FrontierItem {
  url: string;
  depth: number;
}

export interface CrawlStateData {
  version: 1;
  root: string;
  run: {
    status: "running" | "stopped" | "complete";
    frontier: FrontierItem[];
    seen: string[];
    /** Keys yielded by this run so far. */
    done: string[];
  };
  /** Every page of the last complete crawl and this run, by key. */
  pages: Record<string, PageRecord>;
}

export function emptyState(root: string): CrawlStateData {
  return { version: 1, root, run: { status: "running", frontier: [], seen: [], done: [] }, pages: {} };
}

/** The state at `file`, or a new one when there is none (or it belongs to another crawl root). */
export async function readState(file: string | undefined, root: string): Promise<CrawlStateData> {
  if (file === undefined) return emptyState(root);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyState(root);
    throw new InfuseError("crawl.state_unreadable", `cannot read the crawl state ${file}`, {
      kind: "io",
      hint: "check the file's permissions, or pass --state with another path",
      cause: e,
    });
  }
  let data: CrawlStateData;
  try {
    data = JSON.parse(text) as CrawlStateData;
  } catch (e) {
    throw new InfuseError("crawl.bad_state", `${file}: the crawl state is not JSON (${(e as Error).message})`, {
      kind: "input",
      hint: `delete ${file} to crawl from scratch (every page is fetched again)`,
      cause: e,
    });
  }
  if (data.version !== 1 || typeof data.pages !== "object" || !Array.isArray(data.run?.frontier)) {
    throw new InfuseError("crawl.bad_state", `${file}: not a crawl state file of this version`, {
      kind: "input",
      hint: `delete ${file} to crawl from scratch`,
    });
  }
  return data.root === root ? data : emptyState(root);
}

export async function writeState(file: string | undefined, data: CrawlStateData): Promise<void> {
  if (file === undefined) return;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(tmp, JSON.stringify(data));
    await rename(tmp, file);
  } catch (e) {
    throw diskError(e, file, "write the crawl state", "the crawl resumes from the last state written");
  }
}
