// Loaders on real files written by the test: PDF (pdf-lib, with a page without text), DOCX
// (docx), HTML with boilerplate, CSV with quoted fields, JSONL, and a folder walk with globs
// where unreadable files are listed, not fatal.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDocx, makePdf } from "../../examples/make-sample-docs.js";
import { InfuseError } from "../../src/core/errors.js";
import { findFiles, loadFile } from "../../src/rag/load/index.js";
import { parseCsv } from "../../src/formats/csv.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";

const tmp = () => mkdtemp(path.join(os.tmpdir(), "infuse-load-"));

describe("document loaders", () => {
  it("reads PDF text per page with page numbers and reports a page without text", async () => {
    const dir = await tmp();
    const file = path.join(dir, "policy.pdf");
    await writeFile(
      file,
      await makePdf([["First page about tides.", "Second line."], [], ["Third page: storm surge."]]),
    );
    const loaded = await loadFile(file, "policy.pdf");
    expect(loaded.documents.map((d) => d.page)).toEqual([1, 3]);
    expect(loaded.documents[0]!.text).toBe("First page about tides.\nSecond line.");
    expect(loaded.documents[1]!.text).toContain("storm surge");
    expect(loaded.documents[0]!.metadata).toMatchObject({ format: "pdf", pages: 3 });
    expect(loaded.warnings).toEqual([
      { source: "policy.pdf", page: 2, code: "no_text", reason: expect.stringContaining("no text layer") },
    ]);
  });

  it("reads DOCX headings and paragraphs as Markdown", async () => {
    const dir = await tmp();
    const file = path.join(dir, "guide.docx");
    await writeFile(file, await makeDocx(["# Guide", "Intro text.", "## Setup", "Install the tool."]));
    const [doc] = (await loadFile(file, "guide.docx")).documents;
    expect(doc!.text).toBe("# Guide\n\nIntro text.\n\n## Setup\n\nInstall the tool.");
  });

  it("keeps the main content of HTML and drops navigation, footers and scripts", async () => {
    const dir = await tmp();
    const file = path.join(dir, "page.html");
    await writeFile(
      file,
      "<html><head><title>T</title></head><body><nav>Home | Pricing</nav><main><h1>Notes</h1><p>Real <b>content</b>.</p>" +
        "<aside>Related links</aside></main><footer>Cookie banner</footer><script>track()</script></body></html>",
    );
    const [doc] = (await loadFile(file, "page.html")).documents;
    expect(doc!.text).toBe("# Notes\n\nReal **content**.");
    expect(doc!.metadata).toEqual({ format: "html", title: "T" });
  });

  it("parses CSV with quotes, commas and newlines in fields; other columns become metadata", async () => {
    expect(parseCsv('a,b\n"x, y","say ""hi""\nthere"\r\n1,2\n')).toEqual({
      header: ["a", "b"],
      rows: [
        { cells: ["x, y", 'say "hi"\nthere'], line: 2 },
        { cells: ["1", "2"], line: 4 },
      ],
    });
    const dir = await tmp();
    const file = path.join(dir, "faq.csv");
    await writeFile(file, 'id,question,answer\nq1,"Where, exactly?","At the quay, floor 2."\nq2,When?,Mondays\n');
    // by default a row is every column as `column: value` lines
    const whole = await loadFile(file, "faq.csv");
    expect(whole.documents[0]!.text).toBe("id: q1\nquestion: Where, exactly?\nanswer: At the quay, floor 2.");
    await expect(loadFile(file, "faq.csv", { textColumn: "nope" })).rejects.toMatchObject({
      code: "rag.text_column_missing",
      kind: "usage",
    });
    const loaded = await loadFile(file, "faq.csv", { textColumn: "answer" });
    expect(loaded.documents.map((d) => d.text)).toEqual(["At the quay, floor 2.", "Mondays"]);
    expect(loaded.documents[0]!.metadata).toEqual({ format: "csv", row: 1, doc_id: "q1", question: "Where, exactly?" });
  });

  it("reads JSONL records and names the line of a broken one", async () => {
    const dir = await tmp();
    const file = path.join(dir, "docs.jsonl");
    await writeFile(file, '{"_id":"7","text":"alpha","year":2020,"tags":["a"]}\n\n{"_id":"8","text":"beta"}\n');
    const loaded = await loadFile(file, "docs.jsonl");
    expect(loaded.documents[0]!.metadata).toEqual({ format: "jsonl", row: 1, doc_id: "7", year: 2020, tags: '["a"]' });
    await writeFile(file, '{"text":"ok"}\n{"text": oops}\n');
    const error = await loadFile(file, "docs.jsonl").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfuseError);
    expect((error as InfuseError).message).toContain("docs.jsonl: line 2 is not valid JSON");
  });

  it("walks folders with include/exclude globs and lists unreadable files without stopping", async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, "sub/deeper"), { recursive: true });
    await mkdir(path.join(dir, "drafts"));
    await mkdir(path.join(dir, ".git"));
    await writeFile(path.join(dir, "a.md"), "# A\n\nalpha text");
    await writeFile(path.join(dir, "sub/b.txt"), "beta text");
    await writeFile(path.join(dir, "sub/deeper/c.md"), "gamma text");
    await writeFile(path.join(dir, "drafts/d.md"), "draft");
    await writeFile(path.join(dir, ".git/config.txt"), "hidden");
    await writeFile(path.join(dir, "image.png"), "not a document");
    await writeFile(path.join(dir, "broken.pdf"), "%PDF-1.7 this is not really a pdf");
    await writeFile(path.join(dir, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const all = await findFiles(dir);
    expect(all.files.map((f) => f.source)).toEqual([
      "a.md",
      "broken.pdf",
      "drafts/d.md",
      "image.png",
      "latin1.txt",
      "sub/b.txt",
      "sub/deeper/c.md",
    ]);
    const some = await findFiles(dir, { include: ["**/*.md"], exclude: ["drafts/**"] });
    expect(some.files.map((f) => f.source)).toEqual(["a.md", "sub/deeper/c.md"]);

    const report = await ingestPath("walk", dir, { dataDir: await tmp(), embedder: new HashingEmbedder() });
    expect(report.added).toEqual(["a.md", "drafts/d.md", "sub/b.txt", "sub/deeper/c.md"]);
    expect(report.failed.map((f) => f.source)).toEqual(["broken.pdf", "image.png", "latin1.txt"]);
    expect(report.failed[0]!.reason).toContain("not a readable PDF");
    expect(report.failed[1]!.reason).toContain("not a PNG, JPEG or TIFF image");
    expect(report.failed[2]!.reason).toContain("not UTF-8");
  });
});
