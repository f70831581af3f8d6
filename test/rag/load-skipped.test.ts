// Every file that gives no text is listed with why, in `infuse ingest`'s text output and --json:
// an unsupported type (.pptx), empty files, an image and a scanned PDF page while tesseract is
// missing (INFUSE_TESSERACT / ingest.ocr.tesseract pointed at a missing path) with the install hint.
// The scanned page is loaded again by every run until tesseract is there; a file emptied since the
// last run is removed; a large file no loader reads is not read. The images are made here: pdf-lib draws text, pdftoppm rasterises it.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { beforeAll, describe, expect, it } from "vitest";
import { HashingEmbedder, parseHashSpec } from "../../src/rag/embed/hashing.js";
import { DEFAULT_EMBEDDER_SPEC } from "../../src/rag/pipeline/models.js";
import { ingestPath, ingestSources } from "../../src/rag/pipeline/ingest.js";
import type { Source } from "../../src/rag/source/index.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { mainCli } from "../helpers/main-cli.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));
const SCANNED = "Pilots report cargo manifests before docking.";
const INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng";

/** A PNG of `line` as a scanner would give it: drawn into a PDF, rendered by pdftoppm at 150 dpi. */
async function pngOf(line: string, dir: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage([360, 40]).drawText(line, { x: 10, y: 14, size: 16, font });
  const pdf = path.join(dir, "line.pdf");
  await writeFile(pdf, await doc.save());
  await promisify(execFile)("pdftoppm", ["-png", "-r", "150", "-singlefile", pdf, path.join(dir, "line")]);
  return readFile(path.join(dir, "line.png"));
}

let folder: string;

beforeAll(async () => {
  folder = await tmp("skipped-docs");
  const work = await tmp("skipped-work");
  const png = await pngOf(SCANNED, work);
  // page 1 has a text layer, page 2 is only an image (a scan)
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  doc
    .addPage([400, 60])
    .drawText("Harbour rules: the office opens on weekdays at eight.", { x: 10, y: 25, size: 10, font });
  const image = await doc.embedPng(png);
  doc
    .addPage([image.width / 2, image.height / 2])
    .drawImage(image, { x: 0, y: 0, width: image.width / 2, height: image.height / 2 });
  await writeFile(path.join(folder, "scan.pdf"), await doc.save());
  await writeFile(path.join(folder, "sign.png"), png);
  await writeFile(path.join(folder, "notes.md"), "# Notes\n\nThe ferry leaves at nine.");
  await writeFile(
    path.join(folder, "deck.pptx"),
    Buffer.from("PK\x03\x04\x14\x00\x00\x00ppt/presentation.xml", "latin1"),
  );
  await writeFile(path.join(folder, "empty.md"), "");
  await writeFile(path.join(folder, "blank.txt"), "  \n\n");
});

describe("skipped files", () => {
  it("lists every file that gives no text with why, the tesseract hint once, and retries scans once it is installed", async () => {
    const home = await tmp("skipped-home");
    const missing = path.join(home, "no-such-dir/tesseract");
    const json = await mainCli(["ingest", folder, "--collection", "c", "--json"], {
      INFUSE_HOME: home,
      INFUSE_TESSERACT: missing,
    });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.added).toEqual(["notes.md", "scan.pdf"]);
    expect(report.failed).toEqual([]);
    expect(report.skipped).toEqual([
      { source: "blank.txt", media_type: "text/plain", code: "empty", reason: "empty file (only blank space)" },
      {
        source: "deck.pptx",
        media_type: "application/octet-stream",
        code: "unsupported_type",
        reason: 'unsupported file type ".pptx" (no loader reads it)',
        hint: expect.stringContaining("--exclude"),
      },
      { source: "empty.md", media_type: "text/markdown", code: "empty", reason: "empty file (0 bytes)" },
      {
        source: "sign.png",
        media_type: "image/png",
        code: "ocr_unavailable",
        reason: `an image: needs OCR, and tesseract was not found (${missing})`,
        hint: expect.stringContaining(INSTALL),
      },
    ]);
    expect(report.skipped[3].hint).toContain("brew install tesseract");
    expect(report.skipped[3].hint).toContain("INFUSE_TESSERACT");
    expect(report.warnings).toEqual([
      {
        source: "scan.pdf",
        page: 2,
        code: "ocr_unavailable",
        reason: expect.stringContaining("no text layer (a scanned page?): needs OCR, and tesseract was not found"),
        hint: report.skipped[3].hint,
      },
    ]);

    // the config file names the binary too; text output: every skipped file, the hint once
    const config = path.join(home, "infuse.config.json");
    await writeFile(config, JSON.stringify({ ingest: { ocr: { tesseract: `${missing}-2` } } }));
    const text = await mainCli(["ingest", folder, "--collection", "c"], { INFUSE_HOME: home, INFUSE_CONFIG: config });
    expect(text.code).toBe(0);
    // the scanned page waits for OCR: its file is loaded again and, still without OCR, gives the
    // unit already stored, so nothing is rewritten; its warning is shown again
    expect(text.stdout).toContain("0 added, 0 updated, 0 removed, 2 unchanged");
    expect(text.stdout).toContain("  scan.pdf p.2: no text layer (a scanned page?): needs OCR");
    expect(text.stdout).toContain(
      [
        "skipped, no text (4):",
        "  blank.txt: empty file (only blank space)",
        '  deck.pptx: unsupported file type ".pptx" (no loader reads it)',
        "  empty.md: empty file (0 bytes)",
        `  sign.png: an image: needs OCR, and tesseract was not found (${missing}-2)`,
      ].join("\n"),
    );
    expect(text.stdout.split(`hint: install Tesseract: ${INSTALL}`)).toHaveLength(2);

    // tesseract on PATH: the scanned page and the image are read now
    // the CLI built the collection with the default embedder; the library names the same one
    const options = { dataDir: home, embedder: new HashingEmbedder(parseHashSpec(DEFAULT_EMBEDDER_SPEC)) };
    const after = await ingestPath("c", folder, options);
    expect(after).toMatchObject({ added: ["sign.png"], updated: ["scan.pdf"], unchanged: 1, warnings: [] });
    expect(after.skipped.map((s) => s.code)).toEqual(["empty", "unsupported_type", "empty"]);
    const store = await new LanceDbStoreProvider(home).open("c");
    const pages = await store.chunksOf("scan.pdf");
    expect(pages[1]).toMatchObject({ page: 2, text: SCANNED, metadata: { ocr: true } });
    store.close();

    // a file emptied since: listed as skipped, its old chunks removed
    await writeFile(path.join(folder, "notes.md"), "");
    const emptied = await ingestPath("c", folder, options);
    expect(emptied.removed).toEqual(["notes.md"]);
    expect(emptied.skipped.find((s) => s.source === "notes.md")).toMatchObject({ code: "empty" });
  });

  it("does not read a large file of a type no loader reads just to sniff it", async () => {
    let read = false;
    const video: Source = {
      key: "talk.mp4",
      size: 64 * 1024 * 1024,
      bytes: async () => {
        read = true;
        return new Uint8Array(0);
      },
    };
    const report = await ingestSources("v", [video], {
      dataDir: await tmp("skipped-video"),
      embedder: new HashingEmbedder(),
    });
    expect(report.skipped).toMatchObject([{ source: "talk.mp4", code: "unsupported_type" }]);
    expect(read).toBe(false);
  });

  it("refuses a bad --ocr mode and a language tesseract does not have, naming the flag and the package", async () => {
    const home = await tmp("skipped-flags");
    const mode = await mainCli(["ingest", folder, "--ocr", "sometimes"], { INFUSE_HOME: home });
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain("auto, off or force");
    expect(mode.stderr).toContain("--ocr");
    const lang = await mainCli(["ingest", folder, "--ocr-lang", "eng+xyz"], { INFUSE_HOME: home });
    expect(lang.code).toBe(2);
    expect(lang.stderr).toContain('"xyz" not installed');
    expect(lang.stderr).toContain("apt-get install tesseract-ocr-xyz");
  });
});
