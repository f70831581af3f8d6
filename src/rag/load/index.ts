// Loading files and folders: format by extension, folders walked recursively with include/
// exclude globs (picomatch). One file failing never stops a folder: it is reported instead.
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import { loadDocx } from "./docx.js";
import { htmlToMarkdown } from "./html.js";
import { loadPdf } from "./pdf.js";
import { loadCsv, loadJson, loadJsonl } from "./tabular.js";
import type { LoadedFile, TabularOptions } from "./types.js";

export type { LoadedFile, LoadWarning, TabularOptions } from "./types.js";

export const SUPPORTED_EXTENSIONS = ["pdf", "docx", "html", "htm", "md", "markdown", "txt", "csv", "json", "jsonl"];
export const DEFAULT_INCLUDE = [`**/*.{${SUPPORTED_EXTENSIONS.join(",")}}`];
export const DEFAULT_EXCLUDE = ["**/node_modules/**", "**/.*", "**/.*/**"];

/** Loads one file; `source` is the name chunks cite (relative path). */
export async function loadFile(file: string, source: string, options: TabularOptions = {}): Promise<LoadedFile> {
  const ext = path.extname(file).slice(1).toLowerCase();
  checkSupported(ext, source);
  return loadBytes(await readBytes(file, source), ext, source, options);
}

function checkSupported(ext: string, source: string): void {
  if (!SUPPORTED_EXTENSIONS.includes(ext)) {
    throw new InfuseError("rag.unsupported_format", `${source}: unsupported file type ".${ext}"`, {
      kind: "input",
      hint: `supported: ${SUPPORTED_EXTENSIONS.join(", ")}`,
    });
  }
}

/** Loads file contents already read, by extension (no dot). */
export async function loadBytes(
  bytes: Uint8Array,
  ext: string,
  source: string,
  options: TabularOptions = {},
): Promise<LoadedFile> {
  checkSupported(ext, source);
  switch (ext) {
    case "pdf":
      return loadPdf(bytes, source);
    case "docx":
      return loadDocx(bytes, source);
  }
  const text = decodeText(bytes, source);
  switch (ext) {
    case "html":
    case "htm": {
      const { markdown, title } = htmlToMarkdown(text);
      if (markdown.length === 0) return { documents: [], warnings: [{ source, reason: "no main content found" }] };
      return {
        documents: [{ source, text: markdown, metadata: title ? { format: "html", title } : { format: "html" } }],
        warnings: [],
      };
    }
    case "csv":
      return loadCsv(text, source, options);
    case "json":
      return loadJson(text, source, options);
    case "jsonl":
      return loadJsonl(text, source, options);
    default: {
      const format = ext === "txt" ? "text" : "markdown";
      if (text.trim().length === 0) return { documents: [], warnings: [{ source, reason: "empty file" }] };
      return { documents: [{ source, text, metadata: { format } }], warnings: [] };
    }
  }
}

function decodeText(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/\r\n?/g, "\n");
  } catch (e) {
    throw new InfuseError("rag.not_utf8", `${source}: not UTF-8 text`, {
      kind: "input",
      hint: "convert the file to UTF-8",
      cause: e,
    });
  }
}

async function readBytes(file: string, source: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InfuseError("rag.file_unreadable", `${source}: cannot read (${code ?? (e as Error).message})`, {
      kind: code === "ENOENT" ? "not_found" : "io",
      cause: e,
    });
  }
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
}

/** The root folder sources are relative to, and the files to load, sorted by source. */
export async function findFiles(
  target: string,
  options: WalkOptions = {},
): Promise<{ root: string; files: FoundFile[] }> {
  const abs = path.resolve(target);
  let info;
  try {
    info = await stat(abs);
  } catch (e) {
    throw new InfuseError("rag.path_not_found", `${target} does not exist`, { kind: "not_found", cause: e });
  }
  if (info.isFile()) return { root: path.dirname(abs), files: [{ file: abs, source: path.basename(abs) }] };
  const include = picomatch(options.include ?? DEFAULT_INCLUDE, { dot: true, nocase: true });
  const exclude = picomatch(
    options.exclude && options.exclude.length > 0 ? [...DEFAULT_EXCLUDE, ...options.exclude] : DEFAULT_EXCLUDE,
    { dot: true },
  );
  const files: FoundFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    throwIfAborted(options.signal, "scanning folders");
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const source = path.relative(abs, full).split(path.sep).join("/");
      if (exclude(source) || exclude(source + "/")) continue;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && include(source)) files.push({ file: full, source });
    }
  };
  await walk(abs);
  files.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  return { root: abs, files };
}
