// What loaders produce: the documents of one unit (pages for PDF, rows for tables) and
// warnings about parts they could not read (e.g. scanned PDF pages when OCR cannot run).
import type { Limits } from "../../core/limits.js";
import type { ProgressListener } from "../../core/progress.js";
import type { LoadedDocument } from "../types.js";
import type { OcrEngine } from "./ocr/index.js";

/**
 * Why a file, or a part of one, gave no text: a type no loader reads, an empty file, no text in it,
 * OCR needed but not installed, OCR needed but turned off (`--ocr off`).
 */
export type SkipCode = "unsupported_type" | "empty" | "no_text" | "ocr_unavailable" | "ocr_off";

export interface LoadWarning {
  source: string;
  page?: number;
  reason: string;
  /** Set when the part gave no text; a file all of whose parts give none is listed as skipped with it. */
  code?: SkipCode;
  /** How to get the text (e.g. how to install tesseract). */
  hint?: string;
}

export interface LoadedFile {
  documents: LoadedDocument[];
  warnings: LoadWarning[];
}

export interface TabularOptions {
  /** Column (CSV) or field (JSON/JSONL) holding the text; default "text", else "content", "body". */
  textColumn?: string;
  /** Column/field whose value names the record (kept as metadata `doc_id`); default "_id" or "id" if present. */
  idColumn?: string;
}

/** One step of a streaming load: a document (a page, a row) or a warning. */
export type LoadItem = { document: LoadedDocument } | { warning: LoadWarning };

export interface LoadContext {
  /** The name chunks cite: a relative path, a URL, a records' source name. */
  source: string;
  tabular: TabularOptions;
  /** The media type's `charset` parameter, for text formats; UTF-8 when absent. */
  charset?: string;
  signal?: AbortSignal;
  /** Resource limits (`limits.*`); default DEFAULT_LIMITS. */
  limits?: Limits;
  /** The OCR engine for scanned PDF pages and images; default defaultOcr() (mode auto, eng). */
  ocr?: OcrEngine;
  /** Told of slow steps inside one file: each page or image OCR'd (task "ocr"). */
  onProgress?: ProgressListener;
}

/**
 * Turns one unit's bytes into documents. A loader that can stream (PDF, page by page) returns
 * an async iterable, so ingest holds one page at a time; the others return the whole file.
 */
export type Loader = (bytes: Uint8Array, context: LoadContext) => AsyncIterable<LoadItem> | Promise<LoadedFile>;
