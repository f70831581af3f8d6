// PDF text, one document per page with its 1-based page number (pdfjs-dist legacy build,
// which runs in Node), streamed page by page so a long PDF is never held as text all at once.
// No OCR: pages without a text layer are reported as warnings.
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import type { LoadedDocument } from "../types.js";
import type { LoadItem } from "./types.js";

interface TextPiece {
  str: string;
  hasEOL: boolean;
}

/** Yields each page's text (or a warning for a page without text); pages are released as they go. */
export async function* pdfPages(bytes: Uint8Array, source: string, signal?: AbortSignal): AsyncGenerator<LoadItem> {
  const pdfjs = await import("pdfjs-dist/legacy/build/pdf.mjs");
  let doc;
  try {
    doc = await pdfjs.getDocument({
      data: new Uint8Array(bytes),
      isEvalSupported: false,
      useSystemFonts: false,
      verbosity: 0,
    }).promise;
  } catch (e) {
    throw new InfuseError("rag.pdf_unreadable", `${source}: not a readable PDF (${(e as Error).message})`, {
      kind: "input",
      cause: e,
    });
  }
  try {
    for (let n = 1; n <= doc.numPages; n++) {
      throwIfAborted(signal, "loading a PDF");
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      let text = "";
      for (const item of content.items as TextPiece[]) {
        if (typeof item.str !== "string") continue;
        text += item.str + (item.hasEOL ? "\n" : "");
      }
      text = text.replace(/[ \t]+\n/g, "\n").trim();
      page.cleanup();
      if (text.length === 0) {
        yield { warning: { source, page: n, reason: "no text layer (scanned image?); page skipped, no OCR" } };
        continue;
      }
      const metadata: LoadedDocument["metadata"] = { format: "pdf", pages: doc.numPages };
      yield { document: { source, page: n, text, metadata } };
    }
  } finally {
    await doc.destroy();
  }
}
