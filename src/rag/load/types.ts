// What every loader returns: the documents of one file (pages for PDF, rows for tables) and
// warnings about parts it could not read (e.g. scanned PDF pages without a text layer).
import type { LoadedDocument } from "../types.js";

export interface LoadWarning {
  source: string;
  page?: number;
  reason: string;
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
