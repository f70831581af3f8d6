// OCR through Debian's tesseract and poppler's pdftoppm, on images made here (helpers/ocr-images.ts):
// a folder with a PDF whose second page is a scan, a PNG, a JPEG, a TIFF, a Vietnamese line, a
// .pptx and an empty file is ingested; the OCR'd text is found by ask, marked as OCR with its
// confidence and page, the skipped files are listed with why; `off`, `force`, the language check
// against tesseract's installed list, and cancelling a running tesseract.
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { beforeAll, describe, expect, it } from "vitest";
import type { ProgressEvent } from "../../src/core/progress.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { OcrEngine } from "../../src/rag/load/index.js";
import { ask } from "../../src/rag/pipeline/ask.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { LINES, ocrImages, type OcrImages } from "./helpers/ocr-images.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));
const embedder = new HashingEmbedder();

let images: OcrImages;
let folder: string;

beforeAll(async () => {
  images = await ocrImages();
  folder = await tmp("ocr-docs");
  await copyFile(images.scanPdf, path.join(folder, "scan.pdf"));
  await copyFile(images.png, path.join(folder, "sign.png"));
  await copyFile(images.jpeg, path.join(folder, "ticket.jpg"));
  await copyFile(images.vie, path.join(folder, "vie.png"));
  await copyFile(images.tiff, path.join(folder, "manifest.tiff"));
  // a PowerPoint file is a ZIP with ppt/ parts: no loader reads it
  await writeFile(
    path.join(folder, "deck.pptx"),
    Buffer.from("PK\x03\x04\x14\x00\x00\x00ppt/presentation.xml", "latin1"),
  );
  await writeFile(path.join(folder, "empty.txt"), "");
}, 60_000);

describe("OCR", () => {
  it("ingests scanned PDF pages and images through tesseract: searchable, marked as OCR, skipped files listed", async () => {
    const dataDir = await tmp("ocr-data");
    const options = { dataDir, embedder, ocr: { languages: "vie+eng" } };
    const events: ProgressEvent[] = [];
    const report = await ingestPath("scans", folder, { ...options, onProgress: (e) => events.push(e) });
    // each page or image OCR'd is told as it starts
    expect(events.filter((e) => e.task === "ocr").map((e) => e.note)).toEqual([
      "manifest.tiff",
      "scan.pdf p.2",
      "sign.png",
      "ticket.jpg",
      "vie.png",
    ]);
    expect(report.failed).toEqual([]);
    expect(report.added).toEqual(["manifest.tiff", "scan.pdf", "sign.png", "ticket.jpg", "vie.png"]);
    expect(report.skipped).toEqual([
      {
        source: "deck.pptx",
        mediaType: "application/octet-stream",
        code: "unsupported_type",
        reason: 'unsupported file type ".pptx" (no loader reads it)',
        hint: expect.stringContaining("--exclude"),
      },
      { source: "empty.txt", mediaType: "text/plain", code: "empty", reason: "empty file (0 bytes)" },
    ]);
    expect(report.warnings).toEqual([]);

    const store = await new LanceDbStoreProvider(dataDir).open("scans");
    const pdf = await store.chunksOf("scan.pdf");
    expect(pdf.map((c) => [c.page, c.text, c.metadata["ocr"]])).toEqual([
      [1, LINES.textLayer, undefined], // a text layer: not OCR'd
      [2, LINES.scan, true],
    ]);
    expect(pdf[1]!.metadata).toMatchObject({ format: "pdf", pages: 2, ocr_languages: "vie+eng" });
    expect(pdf[1]!.metadata["ocr_confidence"]).toBeGreaterThan(80);
    const [vie] = await store.chunksOf("vie.png");
    expect(vie!.text).toBe(LINES.vie); // diacritics read with the vie data
    expect(vie!.metadata).toMatchObject({ format: "png", ocr: true });
    expect((await store.chunksOf("ticket.jpg"))[0]).toMatchObject({ text: LINES.jpeg, metadata: { format: "jpeg" } });
    expect((await store.chunksOf("manifest.tiff"))[0]).toMatchObject({
      text: LINES.scan,
      metadata: { format: "tiff" },
    });
    store.close();

    const base = { dataDir, collection: "scans", embedder, recipe: { top_k: 1 }, log: false as const };
    const scan = await ask("When must pilots report cargo manifests?", {
      ...base,
      recipe: { top_k: 1, filter: { source: "scan.pdf" } },
    });
    expect(scan.sources[0]).toMatchObject({ source: "scan.pdf", page: 2 });
    expect(scan.answer).toContain("report cargo manifests");
    const gate = await ask("Who opens the north gate?", base);
    expect(gate.hits[0]!.chunk).toMatchObject({ source: "sign.png", metadata: { ocr: true } });

    // nothing changed: no OCR again, and the skipped files are listed again
    const again = await ingestPath("scans", folder, options);
    expect(again).toMatchObject({ unchanged: 5, added: [], updated: [] });
    expect(again.skipped.map((s) => s.source)).toEqual(["deck.pptx", "empty.txt"]);
  });

  it("--ocr off lists images and scanned pages as needing OCR; force OCRs pages that have text", async () => {
    const off = await ingestPath("off", folder, { dataDir: await tmp("ocr-off"), embedder, ocr: { mode: "off" } });
    expect(off.added).toEqual(["scan.pdf"]);
    expect(off.skipped.filter((s) => s.code === "ocr_off").map((s) => s.source)).toEqual([
      "manifest.tiff",
      "sign.png",
      "ticket.jpg",
      "vie.png",
    ]);
    expect(off.skipped.find((s) => s.source === "sign.png")!.reason).toContain("OCR, which is off");
    expect(off.warnings).toEqual([
      {
        source: "scan.pdf",
        page: 2,
        code: "ocr_off",
        reason: "no text layer (a scanned page?); OCR is off (--ocr off)",
      },
    ]);

    // a page with a text layer: auto keeps the layer, force reads the rendered page
    const dataDir = await tmp("ocr-force");
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    doc.addPage([300, 40]).drawText("Berths are booked a day ahead.", { x: 10, y: 15, size: 14, font });
    const file = path.join(dataDir, "berths.pdf");
    await writeFile(file, await doc.save());
    await ingestPath("force", file, { dataDir, embedder, ocr: { mode: "force" } });
    const store = await new LanceDbStoreProvider(dataDir).open("force");
    const [page] = await store.chunksOf("berths.pdf");
    expect(page).toMatchObject({ page: 1, text: "Berths are booked a day ahead.", metadata: { ocr: true } });
    store.close();
  });

  it("checks the languages against tesseract's installed list before ingesting", async () => {
    const dataDir = await tmp("ocr-lang");
    await expect(
      ingestPath("lang", folder, { dataDir, embedder, ocr: { languages: "eng+xyz" } }),
    ).rejects.toMatchObject({
      code: "rag.ocr_language_missing",
      kind: "usage",
      message: expect.stringMatching(/"xyz" not installed .*installed: .*eng.*vie/),
      hint: expect.stringContaining("apt-get install tesseract-ocr-xyz"),
    });
    await expect(
      ingestPath("lang", folder, { dataDir, embedder, ocr: { languages: "eng vie" } }),
    ).rejects.toMatchObject({
      code: "rag.bad_ingest_option",
      message: expect.stringContaining('joined by "+"'),
    });
  });

  it("a running tesseract is killed by the abort signal", async () => {
    const engine = new OcrEngine({ languages: "eng" });
    const controller = new AbortController();
    const running = engine.recognize(await readFile(images.png), "sign.png", controller.signal);
    controller.abort();
    await expect(running).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });
  });
});
