// Loaders by media type. The declared type picks the loader; a file extension is only the
// fallback when no type is known (absent or application/octet-stream), after sniffing the bytes
// for PDF, ZIP (DOCX) and image (PNG, JPEG, TIFF) signatures. A bare text/plain label (no charset:
// a misnamed .txt, a server's default type) does not hide them: their signatures win. Images and
// scanned PDF pages are read by OCR (image.ts, ocr/).
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import { loadDocx } from "./docx.js";
import { IMAGE_MEDIA, imageFormat, loadImage } from "./image.js";
import { pdfPages } from "./pdf.js";
import { loadCsv, loadJson, loadJsonl } from "./tabular.js";
import { decodeText, loadHtml, textLoader } from "./text.js";
import type { LoadContext, LoadedFile, Loader, LoadItem } from "./types.js";

export const MEDIA = {
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  html: "text/html",
  markdown: "text/markdown",
  text: "text/plain",
  csv: "text/csv",
  json: "application/json",
  jsonl: "application/jsonl",
  octet: "application/octet-stream",
  ...IMAGE_MEDIA,
} as const;

const loaders = new Map<string, Loader>();
const byExtension = new Map<string, string>();

/** Registers (or replaces) the loader of one or more media types, and the extensions that mean them. */
export function registerLoader(
  mediaTypes: string | string[],
  loader: Loader,
  options: { extensions?: string[] } = {},
): void {
  const types = (Array.isArray(mediaTypes) ? mediaTypes : [mediaTypes]).map((t) => parseMediaType(t).type);
  if (types.length === 0 || types.some((t) => !/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(t))) {
    throw new InfuseError("rag.media_type_invalid", `cannot register a loader for "${types.join(", ")}"`, {
      kind: "usage",
      hint: 'name media types as type/subtype, e.g. "text/markdown"',
    });
  }
  for (const t of types) loaders.set(t, loader);
  for (const ext of options.extensions ?? []) byExtension.set(ext.replace(/^\./, "").toLowerCase(), types[0]!);
}

/** The media type's essence (lowercase, no parameters) and its charset parameter. */
export function parseMediaType(value: string): { type: string; charset?: string } {
  const [head, ...params] = value.split(";");
  const type = (head ?? "").trim().toLowerCase();
  for (const p of params) {
    const m = /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(p);
    if (m) return { type, charset: m[1]!.toLowerCase() };
  }
  return { type };
}

/** The media type a file name's extension means, or application/octet-stream. */
export function mediaTypeForName(name: string): string {
  return byExtension.get(path.extname(name).slice(1).toLowerCase()) ?? MEDIA.octet;
}

/** Extensions with a registered media type (no dots): what a folder walk includes by default. */
export function registeredExtensions(): string[] {
  return [...byExtension.keys()];
}

/** A media type from the bytes' signature, where one is unambiguous (PDF, ZIP → DOCX, PNG, JPEG, TIFF). */
export function sniffMediaType(bytes: Uint8Array): string | undefined {
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return MEDIA.pdf; // %PDF-
  // PK\3\4: a ZIP; the only ZIP format we load is DOCX (not PPTX, XLSX, ODT, EPUB, …)
  if (starts([0x50, 0x4b, 0x03, 0x04]))
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(DOCX_PART) ? MEDIA.docx : undefined;
  const image = imageFormat(bytes);
  return image ? IMAGE_MEDIA[image] : undefined;
}

const DOCX_PART = "word/document.xml";

const UNTYPED = new Set([MEDIA.octet, "binary/octet-stream", "application/unknown", ""]);

export type LoaderChoice =
  { mediaType: string; charset?: string; loader: Loader } | { mediaType: string; loader?: undefined; reason: string };

/** Which loader reads a unit: declared type, else signature, else the extension of `key`. */
export function loaderFor(mediaType: string | undefined, key: string, bytes?: Uint8Array): LoaderChoice {
  const declared = parseMediaType(mediaType ?? "");
  const sniffed = bytes ? sniffMediaType(bytes) : undefined;
  let type = declared.type;
  if (UNTYPED.has(type)) type = sniffed ?? mediaTypeForName(key);
  else if (type === MEDIA.text && !declared.charset && sniffed) type = sniffed;
  const loader = loaders.get(type);
  if (loader) return { mediaType: type, ...(declared.charset ? { charset: declared.charset } : {}), loader };
  const ext = path.extname(key).slice(1).toLowerCase();
  const reason = UNTYPED.has(type)
    ? ext
      ? `unsupported file type ".${ext}" (no loader reads it)`
      : "unknown file type (no extension, no media type given, contents not recognised)"
    : `no loader for media type ${type}`;
  return { mediaType: type || MEDIA.octet, reason };
}

/** A loader's output as a stream, whether it streams or returns the whole file. */
export async function* loadItems(loader: Loader, bytes: Uint8Array, context: LoadContext): AsyncGenerator<LoadItem> {
  const out = loader(bytes, context);
  if (Symbol.asyncIterator in out) {
    yield* out;
    return;
  }
  const file = await out;
  for (const warning of file.warnings) yield { warning };
  for (const document of file.documents) yield { document };
}

/** Collects a loader's stream into one LoadedFile. */
export async function collect(items: AsyncIterable<LoadItem>): Promise<LoadedFile> {
  const out: LoadedFile = { documents: [], warnings: [] };
  for await (const item of items) {
    if ("document" in item) out.documents.push(item.document);
    else out.warnings.push(item.warning);
  }
  return out;
}

const textOf = (bytes: Uint8Array, c: LoadContext) => decodeText(bytes, c.source, c.charset);
registerLoader(MEDIA.pdf, pdfPages, { extensions: ["pdf"] });
registerLoader(MEDIA.png, loadImage, { extensions: ["png"] });
registerLoader([MEDIA.jpeg, "image/jpg", "image/pjpeg"], loadImage, { extensions: ["jpg", "jpeg"] });
registerLoader(MEDIA.tiff, loadImage, { extensions: ["tif", "tiff"] });
registerLoader(MEDIA.docx, (bytes, c) => loadDocx(bytes, c.source, c.limits), { extensions: ["docx"] });
registerLoader([MEDIA.html, "application/xhtml+xml"], loadHtml, { extensions: ["html", "htm"] });
registerLoader([MEDIA.markdown, "text/x-markdown"], textLoader("markdown"), { extensions: ["md", "markdown"] });
registerLoader(MEDIA.text, textLoader("text"), { extensions: ["txt"] });
registerLoader(MEDIA.csv, async (bytes, c) => loadCsv(textOf(bytes, c), c.source, c.tabular), {
  extensions: ["csv"],
});
registerLoader(MEDIA.json, async (bytes, c) => loadJson(textOf(bytes, c), c.source, c.tabular), {
  extensions: ["json"],
});
registerLoader(
  [MEDIA.jsonl, "application/x-ndjson", "application/jsonlines", "application/x-jsonlines"],
  async (bytes, c) => loadJsonl(textOf(bytes, c), c.source, c.tabular),
  { extensions: ["jsonl", "ndjson"] },
);
