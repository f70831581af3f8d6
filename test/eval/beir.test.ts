// The BEIR loader on the real SciFact files and on broken files written by the test.
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { loadBeir } from "../../src/eval/beir.js";
import { parseQrels } from "../../src/eval/qrels.js";
import { fixture } from "../helpers/fixtures.js";

async function beirFolder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-beir-"));
  await mkdir(path.join(dir, "qrels"));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

async function errorOf(p: Promise<unknown>): Promise<InfuseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof InfuseError) return e;
    throw e;
  }
  throw new Error("expected an InfuseError");
}

describe("loadBeir", () => {
  it("loads the SciFact test split: 5183 documents, 300 judged queries, 339 judgments", async () => {
    const ds = await loadBeir(fixture("datasets/scifact"));
    expect(ds.corpus).toHaveLength(5183);
    expect(ds.queries).toHaveLength(300);
    expect([...ds.qrels.values()].reduce((n, j) => n + j.size, 0)).toBe(339);
    expect(ds.queries[0]).toEqual({ id: "1", text: expect.stringContaining("0-dimensional biomaterials") });
    expect(ds.corpus[0]!.title).toContain("Microstructural development");
    expect(ds.qrels.get("1")!.get("31715818")).toBe(1);
  });

  it("names the missing file and the split", async () => {
    const dir = await beirFolder({ "corpus.jsonl": "", "queries.jsonl": "" });
    const e = await errorOf(loadBeir(dir, { split: "dev" }));
    expect(e.code).toBe("eval.beir_missing_file");
    expect(e.message).toContain(path.join("qrels", "dev.tsv"));
  });

  it("names file, line and field of a bad corpus line", async () => {
    const dir = await beirFolder({
      "corpus.jsonl": '{"_id": "a", "text": "x"}\n{"_id": "b", "title": "t"}\n',
      "queries.jsonl": '{"_id": "q", "text": "y"}\n',
      "qrels/test.tsv": "query-id\tcorpus-id\tscore\nq\ta\t1\n",
    });
    const e = await errorOf(loadBeir(dir));
    expect(e.code).toBe("eval.beir_invalid_field");
    expect(e.message).toMatch(/corpus\.jsonl:2: field "text" is missing/);
  });

  it("rejects qrels for queries the queries file lacks", async () => {
    const dir = await beirFolder({
      "corpus.jsonl": '{"_id": "a", "text": "x"}\n',
      "queries.jsonl": '{"_id": "q", "text": "y"}\n',
      "qrels/test.tsv": "q\ta\t1\nz\ta\t1\n",
    });
    const e = await errorOf(loadBeir(dir));
    expect(e.code).toBe("eval.beir_unknown_query");
  });
});

describe("parseQrels", () => {
  it("reads BEIR TSV with a header and TREC four-column lines", () => {
    const q = parseQrels("query-id\tcorpus-id\tscore\n1\td1\t2\n1 0 d2 1\n", "x.tsv");
    expect(q.get("1")).toEqual(
      new Map([
        ["d1", 2],
        ["d2", 1],
      ]),
    );
  });

  it("names the line and field of a bad score and of duplicates", () => {
    expect(() => parseQrels("1\td1\thigh\n", "q.tsv")).toThrow(/q\.tsv:1: score "high" is not an integer/);
    expect(() => parseQrels("1\td1\t1\n1\td1\t0\n", "q.tsv")).toThrow(/q\.tsv:2: query 1 judges document d1 twice/);
    expect(() => parseQrels("1\td1\n", "q.tsv")).toThrow(/q\.tsv:1: expected 3 fields/);
  });
});
