// DOCX via mammoth: converted to HTML (headings, lists, tables kept) and then to Markdown, so
// the heading-aware splitter sees the document's structure. Images and comments are dropped.
// The zip is checked for bombs (zip.ts) before mammoth expands it.
import mammoth from "mammoth";
import { InfuseError } from "../../core/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../../core/limits.js";
import { htmlToMarkdown } from "./html.js";
import type { LoadedFile } from "./types.js";
import { checkZipBomb } from "./zip.js";

export async function loadDocx(
  bytes: Uint8Array,
  source: string,
  limits: Limits = DEFAULT_LIMITS,
): Promise<LoadedFile> {
  checkZipBomb(bytes, source, limits.maxDecompressedBytes);
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes) })).value;
  } catch (e) {
    throw new InfuseError("rag.docx_unreadable", `${source}: not a readable DOCX (${(e as Error).message})`, {
      kind: "input",
      cause: e,
    });
  }
  const { markdown } = htmlToMarkdown(`<body>${html}</body>`);
  if (markdown.length === 0) return { documents: [], warnings: [{ source, reason: "no text in the document" }] };
  return { documents: [{ source, text: markdown, metadata: { format: "docx" } }], warnings: [] };
}
