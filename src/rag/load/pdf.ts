// PDF text, one document per page with its 1-based page number (pdfjs-dist legacy build, which
// runs in Node), streamed page by page so a long PDF is never held as text all at once. A page
// with no text layer, or too little text over an image (a scan with a stamp), is rendered with
// poppler's pdftoppm and read by tesseract (ocr/): `ocr: auto`; `force` OCRs every page, `off`
// none. pdftoppm, not pdfjs, renders: pdfjs needs a native canvas package in Node to draw a page.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { InfuseError, isInfuseError, throwIfAborted } from "../../core/errors.js";
import type { LoadedDocument } from "../types.js";
import { defaultOcr, type OcrEngine } from "./ocr/index.js";
import type { LoadContext, LoadItem, LoadWarning } from "./types.js";
import type * as PdfJsModule from "pdfjs-dist/legacy/build/pdf.mjs";

interface TextPiece {
  str: string;
  hasEOL: boolean;
}

/** Fewer non-blank characters than this over an image: the page is taken as a scan (auto mode). */
export const MIN_TEXT_CHARS = 32;

type PdfJs = typeof PdfJsModule;
type PdfPage = Awaited<ReturnType<Awaited<ReturnType<PdfJs["getDocument"]>["promise"]>["getPage"]>>;

/** Yields each page's text, OCR'd where it has none, or a warning for a page that gave none. */
export async function* pdfPages(bytes: Uint8Array, context: LoadContext): AsyncGenerator<LoadItem> {
  const { source, signal } = context;
  const ocr = context.ocr ?? defaultOcr();
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
  const scans = new PageScanner(bytes, source, ocr, signal, context.onProgress);
  try {
    for (let n = 1; n <= doc.numPages; n++) {
      throwIfAborted(signal, "loading a PDF");
      const page = await doc.getPage(n);
      const text = await pageText(page);
      const chars = text.replace(/\s/g, "").length;
      // auto: a page with little or no text that draws an image is a scan; a page with neither
      // text nor image is blank (text drawn as outlines needs --ocr force)
      const image = ocr.mode !== "force" && chars < MIN_TEXT_CHARS && (await paintsImage(page, pdfjs.OPS));
      const needsOcr = ocr.mode === "force" || image;
      page.cleanup();
      const base = { format: "pdf", pages: doc.numPages };
      const fromLayer = (): LoadItem => ({ document: { source, page: n, text, metadata: base } });
      if (!needsOcr && chars === 0) {
        yield {
          warning: { source, page: n, reason: "no text on the page (no text layer, no image)", code: "no_text" },
        };
        continue;
      }
      if (!needsOcr) {
        yield fromLayer();
        continue;
      }
      const result = await scans.read(n, chars === 0);
      if ("warning" in result) {
        if (chars > 0) yield fromLayer();
        yield { warning: { ...result.warning, page: n } };
        continue;
      }
      // auto: OCR that reads less than the text layer has (text beside a figure) loses to it;
      // force trusts OCR over a text layer (one with broken font encodings, say)
      if (ocr.mode === "auto" && result.text.replace(/\s/g, "").length <= chars) {
        yield fromLayer();
        continue;
      }
      const metadata: LoadedDocument["metadata"] = {
        ...base,
        ocr: true,
        ocr_confidence: result.confidence,
        ocr_languages: ocr.languages,
      };
      yield { document: { source, page: n, text: result.text, metadata } };
    }
  } finally {
    await doc.destroy();
    await scans.close();
  }
}

async function pageText(page: PdfPage): Promise<string> {
  const content = await page.getTextContent();
  let text = "";
  for (const item of content.items as TextPiece[]) {
    if (typeof item.str !== "string") continue;
    text += item.str + (item.hasEOL ? "\n" : "");
  }
  return text.replace(/[ \t]+\n/g, "\n").trim();
}

/** Whether the page draws an image (a scan), from its operator list. */
async function paintsImage(page: PdfPage, OPS: PdfJs["OPS"]): Promise<boolean> {
  const images = new Set<number>([OPS.paintImageXObject, OPS.paintInlineImageXObject, OPS.paintImageMaskXObject]);
  const list = await page.getOperatorList();
  return list.fnArray.some((op) => images.has(op));
}

type ScanResult = { text: string; confidence: number } | { warning: Omit<LoadWarning, "page"> };

/** Renders and OCRs pages of one PDF; the PDF is written to a temporary file once, when first needed. */
class PageScanner {
  #dir: string | undefined;
  #file: string | undefined;
  #pages = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
    private readonly ocr: OcrEngine,
    private readonly signal: AbortSignal | undefined,
    private readonly onProgress: LoadContext["onProgress"],
  ) {}

  async read(page: number, noText: boolean): Promise<ScanResult> {
    const { source, ocr, signal } = this;
    const what = noText ? "no text layer (a scanned page?)" : "little text over an image (a scanned page?)";
    if (ocr.mode === "off") return { warning: { source, reason: `${what}; OCR is off (--ocr off)`, code: "ocr_off" } };
    const unavailable = (await ocr.ready(signal)) ?? (await ocr.rendererReady(signal));
    if (unavailable) {
      return {
        warning: { source, reason: `${what}: ${unavailable.reason}`, code: "ocr_unavailable", hint: unavailable.hint },
      };
    }
    const label = `${source} p.${page}`;
    this.onProgress?.({ task: "ocr", done: this.#pages++, unit: "pages", note: label });
    try {
      const png = await ocr.renderPage(await this.#pdfFile(), page, label, signal);
      const [read] = await ocr.recognize(png, label, signal, ocr.dpi);
      if (!read || read.text.length === 0) {
        return { warning: { source, reason: `${what}, and OCR (${ocr.languages}) found no text`, code: "no_text" } };
      }
      return { text: read.text, confidence: read.confidence };
    } catch (e) {
      // one page that tesseract or pdftoppm cannot read does not lose the rest of the PDF
      if (!isInfuseError(e) || e.kind === "cancelled") throw e;
      return { warning: { source, reason: `${what}; ${e.message.replace(`${label}: `, "")}`, code: "no_text" } };
    }
  }

  async #pdfFile(): Promise<string> {
    if (this.#file) return this.#file;
    this.#dir = await mkdtemp(path.join(os.tmpdir(), "infuse-ocr-"));
    const file = path.join(this.#dir, "in.pdf");
    await writeFile(file, this.bytes);
    this.#file = file;
    return file;
  }

  async close(): Promise<void> {
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}
