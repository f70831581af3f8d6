// Uploaded files, kept where the server says: each request gets a new folder under the server's own
// upload folder, each file a name made here: a safe stem of the client's name (letters, digits, "-",
// "_"; never a path) and the extension of the type its bytes show (PDF, DOCX by signature; text by
// content, its declared extension kept only when it is a known text format). Binary files of any
// other type are refused. Sizes: limits.maxFileBytes per file, limits.maxUploadBytes per request.
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Limits } from "../core/limits.js";
import { MEDIA, sniffMediaType } from "../rag/load/registry.js";
import { httpError } from "./errors.js";

/** Extensions a text upload keeps from its declared name (each has a loader). */
const TEXT_EXTENSIONS = new Set(["txt", "md", "markdown", "html", "htm", "csv", "tsv", "json", "jsonl"]);
/** At most this many files in one request. */
export const MAX_UPLOAD_FILES = 256;

export interface StoredUpload {
  /** The name given here, relative to the request's folder. */
  name: string;
  /** The client's name, for messages only. */
  clientName: string;
  bytes: number;
}

function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.length < bytes.length ? trimUtf8(head) : head);
    return true;
  } catch {
    return false;
  }
}

/** `head` without a UTF-8 sequence cut at its end. */
function trimUtf8(head: Uint8Array): Uint8Array {
  const end = head.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const b = head[end - i]!;
    if ((b & 0xc0) === 0xc0) return head.subarray(0, end - i); // a lead byte whose sequence is cut
    if ((b & 0xc0) !== 0x80) break;
  }
  return head;
}

/** The extension the bytes call for; undefined when the type is not one infuse reads. */
export function uploadExtension(bytes: Uint8Array, clientName: string): string | undefined {
  const sniffed = sniffMediaType(bytes);
  if (sniffed === MEDIA.pdf) return "pdf";
  if (sniffed === MEDIA.docx) return "docx";
  if (!looksLikeText(bytes)) return undefined;
  const declared = /\.([A-Za-z0-9]{1,10})$/.exec(clientName)?.[1]?.toLowerCase();
  return declared !== undefined && TEXT_EXTENSIONS.has(declared) ? declared : "txt";
}

/** A safe stem from the client's name (no folders, dots or odd characters), else `upload-N`. */
export function safeStem(clientName: string, n: number): string {
  const base = clientName.split(/[\\/]/).pop() ?? "";
  const stem = base
    .replace(/\.[^.]*$/, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60);
  return stem.length > 0 ? stem : `upload-${n}`;
}

/** The `field` files of a multipart body, each checked and written to a new folder under `uploadDir`. */
export async function storeUploads(
  files: File[],
  field: string,
  uploadDir: string,
  limits: Limits,
): Promise<{ dir: string; files: StoredUpload[] }> {
  if (files.length === 0)
    throw httpError(400, "invalid_request", `${field}: no file uploaded`, {
      param: field,
      hint: `send multipart/form-data with one or more files in the field "${field}"`,
    });
  if (files.length > MAX_UPLOAD_FILES)
    throw httpError(400, "invalid_request", `${field}: at most ${MAX_UPLOAD_FILES} files per request`, {
      param: field,
    });
  const checked: { name: string; clientName: string; data: Uint8Array }[] = [];
  const taken = new Set<string>();
  for (const [i, file] of files.entries()) {
    const param = `${field}[${i}]`;
    if (file.size > limits.maxFileBytes)
      throw httpError(
        413,
        "file_too_large",
        `${param} (${file.name}): ${file.size} bytes is over limits.maxFileBytes (${limits.maxFileBytes})`,
        {
          param,
          hint: "raise limits.maxFileBytes in infuse.config.json if you trust the file",
        },
      );
    const data = new Uint8Array(await file.arrayBuffer());
    const ext = uploadExtension(data, file.name);
    if (ext === undefined)
      throw httpError(
        415,
        "unsupported_file_type",
        `${param} (${file.name}): not a type infuse reads (PDF, DOCX or text)`,
        {
          param,
        },
      );
    let name = `${safeStem(file.name, i + 1)}.${ext}`;
    for (let k = 2; taken.has(name.toLowerCase()); k++) name = `${safeStem(file.name, i + 1)}-${k}.${ext}`;
    taken.add(name.toLowerCase());
    checked.push({ name, clientName: file.name, data });
  }
  const dir = path.join(uploadDir, randomUUID());
  await mkdir(dir, { recursive: true });
  for (const f of checked) await writeFile(path.join(dir, f.name), f.data, { flag: "wx" });
  return { dir, files: checked.map((f) => ({ name: f.name, clientName: f.clientName, bytes: f.data.byteLength })) };
}

/** The files of one multipart field (strings are not files: a 400 naming the field). */
export function filesOf(form: Record<string, unknown>, field: string): File[] {
  const value = form[field];
  const all = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return all.map((v, i) => {
    if (!(v instanceof File))
      throw httpError(400, "invalid_request", `${field}[${i}]: expected a file, got text`, { param: field });
    return v;
  });
}
