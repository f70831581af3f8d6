// PDF text, one document per page with its 1-based page number (pdfjs-dist legacy build,
// which runs in Node). No OCR: pages without a text layer are reported as warnings.
import { InfuseError } from "../../core/errors.js";
import type { LoadedDocument } from "../types.js";
import type { LoadedFile } from "./types.js";

interface TextPiece {
  str: string;
  hasEOL: boolean;
}

export async function loadPdf(bytes: Uint8Array, source: string): Promise<LoadedFile> {
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
  const out: LoadedFile = { documents: [], warnings: [] };
  try {
    for (let n = 1; n <= doc.numPages; n++) {
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
        out.warnings.push({ source, page: n, reason: "no text layer (scanned image?); page skipped, no OCR" });
        continue;
      }
      const metadata: LoadedDocument["metadata"] = { format: "pdf", pages: doc.numPages };
      out.documents.push({ source, page: n, text, metadata });
    }
  } finally {
    await doc.destroy();
  }
  return out;
}
