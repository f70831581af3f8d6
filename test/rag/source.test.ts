// The source seam and the loader registry: loaders picked by media type (declared type first,
// byte signatures and then the extension as fallbacks), in-memory uploads and records ingested
// like files, unknown types listed as skipped, and a source's content hash skipping unread bytes.
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDocx, makePdf } from "../../examples/make-sample-docs.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { loadBytes, loaderFor, parseMediaType, registerLoader } from "../../src/rag/load/index.js";
import { ingestPath, ingestSources } from "../../src/rag/pipeline/ingest.js";
import { bytesSource, uploadSource, type Source } from "../../src/rag/source/index.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));
const embedder = new HashingEmbedder();
const utf8 = (s: string) => new TextEncoder().encode(s);

describe("loader registry", () => {
  it("picks the loader by declared media type; the extension only when no type is known", async () => {
    const pdf = await makePdf([["A page about tides."]]);
    const docx = new Uint8Array(await makeDocx(["# Guide", "Intro."]));
    expect(loaderFor("text/html; charset=UTF-8", "page.txt").mediaType).toBe("text/html");
    expect(loaderFor("text/html; charset=UTF-8", "page.txt")).toMatchObject({ charset: "utf-8" });
    // absent or application/octet-stream: the bytes' signature, then the extension
    expect(loaderFor(undefined, "notes.md", utf8("# Notes")).mediaType).toBe("text/markdown");
    expect(loaderFor("application/octet-stream", "data.jsonl", utf8("{}")).mediaType).toBe("application/jsonl");
    expect(loaderFor("application/octet-stream", "blob", pdf).mediaType).toBe("application/pdf");
    expect(loaderFor(undefined, "report.bin", docx).mediaType).toBe(
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    );
    // a declared type is not overridden by the extension
    expect(loaderFor("text/csv", "table.md", utf8("a,b")).mediaType).toBe("text/csv");
    // unknown types name the reason
    expect(loaderFor("video/mp4", "x.mp4", new Uint8Array([0, 0]))).toEqual({
      mediaType: "video/mp4",
      reason: "no loader for media type video/mp4",
    });
    expect(loaderFor(undefined, "LICENSE", utf8("MIT"))).toEqual({
      mediaType: "application/octet-stream",
      reason: "unknown file type (no extension, no media type given, contents not recognised)",
    });
  });

  it("a bare text/plain label (a misnamed .txt) does not hide a PDF; text/plain with a charset is text", async () => {
    const pdf = await makePdf([["Signature beats label."]]);
    const asTxt = await loadBytes(pdf, "txt", "misnamed.txt");
    expect(asTxt.documents).toEqual([
      { source: "misnamed.txt", page: 1, text: "Signature beats label.", metadata: { format: "pdf", pages: 1 } },
    ]);
    expect(loaderFor("text/plain", "misnamed.txt", pdf).mediaType).toBe("application/pdf");
    expect(loaderFor("text/plain; charset=utf-8", "x.txt", pdf).mediaType).toBe("text/plain");
    // an .md file is declared Markdown by its extension: no sniffing, and PDF bytes are not UTF-8
    await expect(loadBytes(pdf, "md", "odd.md")).rejects.toMatchObject({ code: "rag.not_utf8" });
  });

  it("decodes the declared charset and rejects an unknown one", async () => {
    const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9]); // "café" in ISO-8859-1
    const loaded = await loadBytes(latin1, "text/plain; charset=ISO-8859-1", "cafe");
    expect(loaded.documents[0]!.text).toBe("café");
    await expect(loadBytes(latin1, "text/plain", "cafe.txt")).rejects.toMatchObject({ code: "rag.not_utf8" });
    await expect(loadBytes(latin1, "text/plain; charset=klingon", "cafe")).rejects.toMatchObject({
      code: "rag.unknown_charset",
    });
    expect(parseMediaType('Text/HTML ; Charset="Windows-1252"')).toEqual({
      type: "text/html",
      charset: "windows-1252",
    });
  });

  it("registers a loader for a new media type and extension; malformed types are refused", async () => {
    registerLoader(
      "text/x-shout",
      async (bytes, c) => ({
        documents: [{ source: c.source, text: new TextDecoder().decode(bytes).toUpperCase(), metadata: {} }],
        warnings: [],
      }),
      { extensions: ["shout"] },
    );
    expect((await loadBytes(utf8("quiet words"), "shout", "a.shout")).documents[0]!.text).toBe("QUIET WORDS");
    const dir = await tmp("shout");
    await writeFile(path.join(dir, "b.shout"), "hello");
    const report = await ingestPath("s", dir, { dataDir: await tmp("data"), embedder });
    expect(report.added).toEqual(["b.shout"]);
    expect(() => registerLoader("nonsense", async () => ({ documents: [], warnings: [] }))).toThrow(
      /cannot register a loader/,
    );
  });
});

describe("sources", () => {
  it("ingests in-memory uploads by declared type, lists unknown types as skipped, and merges metadata", async () => {
    const dataDir = await tmp("data");
    const html =
      "<html><head><title>Tides</title></head><body><nav>Home</nav><main><h1>Tides</h1><p>The moon pulls the sea.</p></main></body></html>";
    const pdf = await makePdf([["Harbour rules: berths are booked a day ahead."]]);
    const uploads = [
      { key: "tides", bytes: utf8(html), mediaType: "text/html", metadata: { url: "https://example.test/tides" } },
      { key: "rules.bin", bytes: pdf, mediaType: "application/octet-stream" },
      { key: "clip.mp4", bytes: new Uint8Array([0, 0, 0, 0x18]), mediaType: "video/mp4" },
    ];
    const report = await ingestSources("u", uploadSource(uploads), { dataDir, embedder });
    expect(report.added).toEqual(["tides", "rules.bin"]);
    expect(report.skipped).toEqual([
      {
        source: "clip.mp4",
        mediaType: "video/mp4",
        code: "unsupported_type",
        reason: "no loader for media type video/mp4",
        hint: expect.stringContaining("convert it"),
      },
    ]);
    expect(report.failed).toEqual([]);
    const store = await new LanceDbStoreProvider(dataDir).open("u");
    const [tides] = await store.chunksOf("tides");
    expect(tides).toMatchObject({
      source: "tides",
      text: "# Tides\n\nThe moon pulls the sea.",
      metadata: { format: "html", title: "Tides", url: "https://example.test/tides" },
    });
    expect((await store.chunksOf("rules.bin"))[0]).toMatchObject({ page: 1, metadata: { format: "pdf" } });
    expect(store.manifest.units["tides"]!.root).toBe("upload");
    store.close();

    // a complete upload set syncs its root: what is not uploaded again is removed
    const again = await ingestSources("u", uploadSource([uploads[0]!], { complete: true }), { dataDir, embedder });
    expect(again).toMatchObject({ unchanged: 1, removed: ["rules.bin"] });
  });

  it("a source's content hash skips an unchanged unit without reading its bytes", async () => {
    const dataDir = await tmp("data");
    let reads = 0;
    const page = (hash: string, text: string): Source => ({
      key: "https://example.test/a",
      mediaType: "text/markdown",
      contentHash: hash,
      bytes: async () => {
        reads++;
        return utf8(text);
      },
    });
    expect(await ingestSources("h", [page("v1", "# A\n\nFirst.")], { dataDir, embedder })).toMatchObject({
      added: ["https://example.test/a"],
    });
    expect(await ingestSources("h", [page("v1", "unused")], { dataDir, embedder })).toMatchObject({ unchanged: 1 });
    expect(reads).toBe(1);
    expect(await ingestSources("h", [page("v2", "# A\n\nSecond.")], { dataDir, embedder })).toMatchObject({
      updated: ["https://example.test/a"],
    });
    expect(reads).toBe(2);
    const store = await new LanceDbStoreProvider(dataDir).open("h");
    expect((await store.chunksOf("https://example.test/a")).map((c) => c.text)).toEqual(["# A\n\nSecond."]);
    store.close();
  });

  it("a key yielded twice is reported and ingested once; a failing source does not stop the stream", async () => {
    const dataDir = await tmp("data");
    const report = await ingestSources(
      "d",
      [
        bytesSource({ key: "a.md", bytes: utf8("first") }),
        { key: "gone.md", bytes: () => Promise.reject(new Error("connection reset")) },
        bytesSource({ key: "a.md", bytes: utf8("second") }),
      ],
      { dataDir, embedder },
    );
    expect(report.added).toEqual(["a.md"]);
    expect(report.failed).toEqual([
      { source: "gone.md", reason: "connection reset" },
      { source: "a.md", reason: 'key "a.md" came twice in one ingest; the first was kept' },
    ]);
  });
});
