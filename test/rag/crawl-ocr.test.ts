// A crawl that meets scanned content: a page with an image of text (`followImages`) and a link to a
// PDF whose second page is a scan with no text layer. Both reach the loaders through the source
// stream and are read by tesseract; the chunks say they are OCR, and the text is searchable.
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { crawlConfig } from "../../src/rag/source/crawl/config.js";
import { crawlSite } from "../../src/rag/source/crawl/run.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { LINES, ocrImages } from "./helpers/ocr-images.js";

let server: Server;
let base: string;

beforeAll(async () => {
  const images = await ocrImages();
  const files: Record<string, [string, Buffer]> = {
    "/": [
      "text/html",
      Buffer.from(
        "<!doctype html><html><head><title>Harbour notices</title></head><body><main><h1>Notices</h1>" +
          '<p>The sign at the gate:</p><img src="/sign.png" alt=""><p><a href="/scan.pdf">Pilot rules (scanned)</a></p>' +
          "</main></body></html>",
      ),
    ],
    "/sign.png": ["image/png", await readFile(images.png)],
    "/scan.pdf": ["application/pdf", await readFile(images.scanPdf)],
  };
  server = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": file[0] }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("crawl with OCR", () => {
  it("reads an image's text (followImages) and a scanned PDF page through tesseract", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-crawl-ocr-"));
    const store = new LanceDbStoreProvider(dataDir);
    const config = crawlConfig({
      startUrls: [`${base}/`],
      respectRobots: false,
      sitemaps: "skip",
      delayMs: 0,
      followImages: true,
    });
    const report = await crawlSite(config, {
      collection: "notices",
      ingest: { dataDir, store, embedder: new HashingEmbedder() },
    });
    expect(report.ingest?.added.sort()).toEqual([`${base}/`, `${base}/scan.pdf`, `${base}/sign.png`].sort());
    const collection = await store.open("notices");
    try {
      const hits = await collection.searchText("harbour master north gate dawn", { topK: 3 });
      expect(hits[0]?.chunk.source).toBe(`${base}/sign.png`);
      expect(hits[0]?.chunk.text).toContain("north gate at dawn");
      expect(hits[0]?.chunk.metadata["ocr"]).toBe(true);
      const scan = await collection.searchText("pilots report cargo manifests", { topK: 3 });
      expect(scan[0]?.chunk.source).toBe(`${base}/scan.pdf`);
      expect(scan[0]?.chunk.page).toBe(2);
      expect(scan[0]?.chunk.text).toContain(LINES.scan.slice(0, 20));
    } finally {
      collection.close();
    }
  });

  it("leaves images alone without followImages", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-crawl-ocr-"));
    const config = crawlConfig({ startUrls: [`${base}/`], respectRobots: false, sitemaps: "skip", delayMs: 0 });
    const report = await crawlSite(config, {
      collection: "notices",
      ingest: { dataDir, store: new LanceDbStoreProvider(dataDir), embedder: new HashingEmbedder() },
    });
    expect(report.ingest?.added).not.toContain(`${base}/sign.png`);
  });
});
