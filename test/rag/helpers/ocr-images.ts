// Images with text for the OCR tests, made here: lines rendered by chromium (playwright-core,
// Debian's /usr/bin/chromium) and screenshotted as PNG and JPEG, the PNG wrapped into a PDF page
// with no text layer by pdf-lib (a scanned page), and a TIFF rendered from it by pdftoppm. They are
// cached in the temp folder under a hash of what they show, so a test run makes them once.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { chromium } from "playwright-core";

export const LINES = {
  png: "The harbour master opens the north gate at dawn.",
  jpeg: "Ferry tickets cost twelve euros for adults.",
  scan: "Pilots must report cargo manifests before docking.",
  vie: "Tàu cập bến lúc bảy giờ sáng.",
  textLayer: "Harbour rules overview: the office is open on weekdays from eight to five.",
} as const;

export interface OcrImages {
  dir: string;
  png: string;
  jpeg: string;
  vie: string;
  /** A PDF: page 1 with a text layer, page 2 a scanned image of LINES.scan with no text layer. */
  scanPdf: string;
  /** LINES.scan as a TIFF (pdftoppm's rendering of the scanned page). */
  tiff: string;
}

const html = (line: string) =>
  `<!doctype html><html><body style="margin:0;padding:24px 32px;background:#fff;color:#000;` +
  `font:40px 'DejaVu Sans',sans-serif;white-space:nowrap">${line}</body></html>`;

/** The images, made once per spec and reused from the temp folder. */
export async function ocrImages(): Promise<OcrImages> {
  const key = createHash("sha256").update(JSON.stringify(LINES)).update("v1").digest("hex").slice(0, 12);
  const dir = path.join(os.tmpdir(), `infuse-ocr-images-${key}`);
  const out: OcrImages = {
    dir,
    png: path.join(dir, "sign.png"),
    jpeg: path.join(dir, "ticket.jpg"),
    vie: path.join(dir, "vie.png"),
    scanPdf: path.join(dir, "scan.pdf"),
    tiff: path.join(dir, "scan.tiff"),
  };
  if (await stat(out.tiff).catch(() => undefined)) return out;
  await mkdir(dir, { recursive: true });
  // written under temporary names and renamed: a parallel test file never reads half a file
  const put = async (file: string, bytes: Uint8Array) => {
    const part = `${file}.${process.pid}.part`;
    await writeFile(part, bytes);
    await rename(part, file);
  };
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 100 } });
    const shot = async (line: string, type: "png" | "jpeg") => {
      await page.setContent(html(line));
      return page.screenshot({ type, ...(type === "jpeg" ? { quality: 90 } : {}) });
    };
    await put(out.png, await shot(LINES.png, "png"));
    await put(out.jpeg, await shot(LINES.jpeg, "jpeg"));
    await put(out.vie, await shot(LINES.vie, "png"));
    const scanPng = await shot(LINES.scan, "png");
    // the scan's page is sized so that 300 dpi gives back the screenshot's pixels
    const pdf = await PDFDocument.create();
    const first = pdf.addPage([420, 200]);
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    first.drawText(LINES.textLayer, { x: 20, y: 150, size: 8, font });
    const image = await pdf.embedPng(scanPng);
    const [w, h] = [(image.width * 72) / 300, (image.height * 72) / 300];
    pdf.addPage([w, h]).drawImage(image, { x: 0, y: 0, width: w, height: h });
    await put(out.scanPdf, await pdf.save());
  } finally {
    await browser.close();
  }
  const tiffRoot = path.join(dir, `tiff-${process.pid}`);
  await promisify(execFile)("pdftoppm", [
    "-tiff",
    "-r",
    "300",
    "-f",
    "2",
    "-l",
    "2",
    "-singlefile",
    out.scanPdf,
    tiffRoot,
  ]);
  await rename(`${tiffRoot}.tif`, out.tiff);
  return out;
}

export const bytesOf = (file: string) => readFile(file);
