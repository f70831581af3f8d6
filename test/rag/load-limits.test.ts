// Hostile documents against limits.*: a file over limits.maxFileBytes is refused before it is read,
// a DOCX zip bomb (declaring its size honestly, or lying about it) is refused before mammoth
// expands it; ingest lists each as failed and goes on with the rest.
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { makeDocx } from "../../examples/make-sample-docs.js";
import { isInfuseError } from "../../src/core/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../../src/core/limits.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { loadFile } from "../../src/rag/load/index.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";

const tmp = () => mkdtemp(path.join(os.tmpdir(), "infuse-load-limits-"));
const MiB = 1024 * 1024;
const small: Limits = { ...DEFAULT_LIMITS, maxFileBytes: 64 * 1024, maxDecompressedBytes: 1 * MiB };

/** A zip of deflated entries, each declaring `declared` as its size when given (a zip may lie). */
function makeZip(entries: { name: string; data: Buffer; declared?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const packed = deflateRawSync(e.data);
    const size = e.declared ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(packed.length, 20);
    dir.writeUInt32LE(size, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    central.push(dir, name);
    offset += 30 + name.length + packed.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const bombXml = () => Buffer.concat([Buffer.from("<w:document><w:body>"), Buffer.alloc(20 * MiB, 0x20)]);

async function errorOf(p: Promise<unknown>): Promise<{ code: string; limit: unknown; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isInfuseError(e) && e.kind === "input") return { code: e.code, limit: e.details["limit"], message: e.message };
    throw e;
  }
  throw new Error("it loaded");
}

describe("document limits", () => {
  it("refuses a DOCX whose entries declare more than limits.maxDecompressedBytes", async () => {
    const file = path.join(await tmp(), "bomb.docx");
    await writeFile(file, makeZip([{ name: "word/document.xml", data: bombXml() }]));
    expect(await errorOf(loadFile(file, "bomb.docx", {}, small))).toMatchObject({
      code: "rag.decompressed_too_large",
      limit: "limits.maxDecompressedBytes",
      message: expect.stringContaining("bomb.docx"),
    });
  });

  it("refuses a DOCX that lies about its sizes, stopping the inflation at the limit", async () => {
    const file = path.join(await tmp(), "liar.docx");
    await writeFile(file, makeZip([{ name: "word/document.xml", data: bombXml(), declared: 100 }]));
    expect(await errorOf(loadFile(file, "liar.docx", {}, small))).toMatchObject({
      code: "rag.decompressed_too_large",
    });
    // under a limit it fits, the lie itself is named
    const roomy = { ...small, maxDecompressedBytes: 64 * MiB };
    expect((await errorOf(loadFile(file, "liar.docx", {}, roomy))).message).toMatch(/declares/);
  });

  it("refuses a zip whose entries share one compressed stream", async () => {
    const zip = makeZip([{ name: "word/document.xml", data: Buffer.alloc(1000, 0x20) }]);
    // a second directory record pointing at the same local entry
    const cdStart = zip.readUInt32LE(zip.length - 6);
    const record = zip.subarray(cdStart, zip.length - 22);
    const end = Buffer.from(zip.subarray(zip.length - 22));
    end.writeUInt16LE(2, 8);
    end.writeUInt16LE(2, 10);
    end.writeUInt32LE(record.length * 2, 12);
    const file = path.join(await tmp(), "overlap.docx");
    await writeFile(file, Buffer.concat([zip.subarray(0, cdStart), record, record, end]));
    expect(await errorOf(loadFile(file, "overlap.docx", {}, small))).toMatchObject({ code: "rag.docx_unreadable" });
  });

  it("still reads a real DOCX under small limits", async () => {
    const file = path.join(await tmp(), "guide.docx");
    await writeFile(file, await makeDocx(["# Guide", "Intro text."]));
    expect((await loadFile(file, "guide.docx", {}, small)).documents[0]!.text).toBe("# Guide\n\nIntro text.");
  });

  it("ingest lists a file over limits.maxFileBytes and a DOCX bomb as failed and goes on", async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, "big.txt"), "word ".repeat(20_000));
    await writeFile(path.join(dir, "bomb.docx"), makeZip([{ name: "word/document.xml", data: bombXml() }]));
    await writeFile(path.join(dir, "ok.txt"), "A small file about tides.");
    expect(await errorOf(loadFile(path.join(dir, "big.txt"), "big.txt", {}, small))).toMatchObject({
      code: "rag.file_too_large",
      limit: "limits.maxFileBytes",
    });
    const report = await ingestPath("limits", dir, {
      dataDir: await tmp(),
      embedder: new HashingEmbedder(),
      limits: small,
    });
    expect(report.added).toEqual(["ok.txt"]);
    expect(report.failed.map((f) => f.source).sort()).toEqual(["big.txt", "bomb.docx"]);
    expect(report.failed.find((f) => f.source === "big.txt")!.reason).toContain("limits.maxFileBytes");
    expect(report.failed.find((f) => f.source === "bomb.docx")!.reason).toContain("limits.maxDecompressedBytes");
  });
});
