import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCsv } from "../../src/formats/csv.js";
import { parseJsonLines, readJsonLines } from "../../src/formats/jsonl.js";

describe("parseCsv", () => {
  it("reads quotes, doubled quotes, newlines in quotes, CRLF, a BOM and line numbers", () => {
    const text = '\ufeffq,a\r\n"x, y","say ""hi"""\r\n\r\n"two\nlines",z\nlast,row';
    const t = parseCsv(text);
    expect(t.header).toEqual(["q", "a"]);
    expect(t.rows).toEqual([
      { cells: ["x, y", 'say "hi"'], line: 2 },
      { cells: ["two\nlines", "z"], line: 4 },
      { cells: ["last", "row"], line: 6 },
    ]);
    expect(t.unclosedQuoteLine).toBeUndefined();
  });
  it("reads TSV and reports an unclosed quote with the line it opened on", () => {
    expect(parseCsv("a\tb\n1\t2\n", { separator: "\t" }).rows).toEqual([{ cells: ["1", "2"], line: 2 }]);
    expect(parseCsv('a,b\n1,2\n3,"open\nmore').unclosedQuoteLine).toBe(3);
  });
});

describe("JSON lines", () => {
  const text = '{"a":1}\r\n\n[2]\nnot json\n  \n"s"';
  const expected = [
    { line: 1, ok: true, value: { a: 1 } },
    { line: 3, ok: true, value: [2] },
    { line: 4, ok: false },
    { line: 6, ok: true, value: "s" },
  ];
  it("parses text, keeping bad lines as errors with their line", () => {
    const rows = parseJsonLines(text);
    expect(rows).toMatchObject(expected);
    expect(rows[2]).toHaveProperty("error", expect.stringMatching(/JSON/));
  });
  it("streams a file with the same lines", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "jsonl-")), "x.jsonl");
    await writeFile(file, text);
    const rows = [];
    for await (const r of readJsonLines(file)) rows.push(r);
    expect(rows).toMatchObject(expected);
  });
});
