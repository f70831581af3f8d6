// Images (PNG, JPEG, TIFF, told apart by their bytes) as text through OCR: one document per image,
// or per page of a multi-page TIFF, marked `ocr: true` with tesseract's mean word confidence.
// Without tesseract, or with --ocr off, the image gives a warning that ingest lists as a skip.
import { InfuseError } from "../../core/errors.js";
import type { LoadedDocument } from "../types.js";
import { defaultOcr } from "./ocr/index.js";
import type { LoadContext, LoadedFile } from "./types.js";

export const IMAGE_MEDIA = { png: "image/png", jpeg: "image/jpeg", tiff: "image/tiff" } as const;
export type ImageFormat = keyof typeof IMAGE_MEDIA;

/** The image format of the bytes' signature, if one we OCR. */
export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (starts([0xff, 0xd8, 0xff])) return "jpeg";
  if (starts([0x49, 0x49, 0x2a, 0x00]) || starts([0x4d, 0x4d, 0x00, 0x2a])) return "tiff";
  return undefined;
}

export async function loadImage(bytes: Uint8Array, context: LoadContext): Promise<LoadedFile> {
  const { source, signal } = context;
  const format = imageFormat(bytes);
  if (!format) {
    throw new InfuseError("rag.image_unreadable", `${source}: not a PNG, JPEG or TIFF image`, {
      kind: "input",
      hint: "the bytes do not start with a PNG, JPEG or TIFF signature; convert the image to PNG",
    });
  }
  const ocr = context.ocr ?? defaultOcr();
  if (ocr.mode === "off") {
    return skip(source, "ocr_off", "an image: its text needs OCR, which is off (--ocr off)", "use --ocr auto");
  }
  const unavailable = await ocr.ready(signal);
  if (unavailable) return skip(source, "ocr_unavailable", `an image: ${unavailable.reason}`, unavailable.hint);
  context.onProgress?.({ task: "ocr", done: 0, unit: "images", note: source });
  const pages = await ocr.recognize(bytes, source, signal);
  const documents: LoadedDocument[] = [];
  for (const p of pages) {
    if (p.text.length === 0) continue;
    documents.push({
      source,
      ...(pages.length > 1 ? { page: p.page } : {}),
      text: p.text,
      metadata: {
        format,
        ...(pages.length > 1 ? { pages: pages.length } : {}),
        ocr: true,
        ocr_confidence: p.confidence,
        ocr_languages: ocr.languages,
      },
    });
  }
  if (documents.length === 0) return skip(source, "no_text", `OCR (${ocr.languages}) found no text in the image`);
  return { documents, warnings: [] };
}

function skip(source: string, code: "ocr_off" | "ocr_unavailable" | "no_text", reason: string, hint?: string) {
  return { documents: [], warnings: [{ source, reason, code, ...(hint ? { hint } : {}) }] };
}
