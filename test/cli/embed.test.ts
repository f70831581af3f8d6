// `infuse embed queries` and `infuse embed mine` through the real CLI main(): --json summaries in the
// wire format, pairs from BEIR qrels, and the usage errors (bad pairs line, --range, retriever, corpus).
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPairs } from "../../src/rag/embed-data/index.js";
import { mainCli } from "../helpers/main-cli.js";

const DOCS = [
  {
    _id: "d1",
    title: "Bees",
    text: "Honey bees dance to share directions. The angle of the dance points to the flowers.",
  },
  { _id: "d2", title: "Salmon", text: "Salmon smell their way home. They return to the stream where they hatched." },
  { _id: "d3", title: "Dances", text: "Bees dance in the hive. Dances of honey bees point to flowers far away." },
  { _id: "d4", title: "Rock", text: "Lichens grow on bare rock. They are fungi and algae living together." },
];

describe("infuse embed", () => {
  let dir: string;
  let env: Record<string, string>;
  const file = (name: string) => path.join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "infuse-embed-cli-"));
    env = { INFUSE_HOME: path.join(dir, "home") };
    await writeFile(file("corpus.jsonl"), DOCS.map((d) => JSON.stringify(d)).join("\n") + "\n");
    await writeFile(
      file("queries.jsonl"),
      '{"_id": "q1", "text": "how do bees share where flowers are"}\n{"_id": "q2", "text": "x"}\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("queries (offline) and mine print wire-format JSON and write the pairs files", async () => {
    const q = await mainCli(
      ["--json", "embed", "queries", "--corpus", file("corpus.jsonl"), "--out", file("pairs.jsonl")],
      env,
    );
    expect(q.code).toBe(0);
    const summary = JSON.parse(q.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      mode: "offline",
      passages: 4,
      queries_written: 8,
      malformed: 0,
      retried: 0,
      skipped: 0,
    });
    const m = await mainCli(
      [
        "--json",
        "embed",
        "mine",
        file("pairs.jsonl"),
        "--corpus",
        file("corpus.jsonl"),
        "--out",
        file("mined.jsonl"),
        "--negatives",
        "2",
        "--range",
        "1-3",
      ],
      env,
    );
    expect(m.code).toBe(0);
    const mined = JSON.parse(m.stdout) as { stats: Record<string, unknown> };
    expect(mined.stats).toMatchObject({ queries: 8, retriever: "bm25", range: [1, 3] });
    expect(Object.keys(mined.stats)).toEqual(
      expect.arrayContaining(["dropped_positive", "dropped_probable_positive", "short"]),
    );
    const pairs = await readPairs(file("mined.jsonl"));
    expect(pairs).toHaveLength(8);
    for (const p of pairs) {
      expect(p.neg!.length).toBeLessThanOrEqual(2);
      expect(p.neg_ids).not.toContain(p.pos_ids![0]);
    }
    // the mining index is a cache: listed with --all only
    const list = async (...a: string[]) =>
      (JSON.parse((await mainCli(["--json", "collections", ...a], env)).stdout) as { name: string }[]).map(
        (c) => c.name,
      );
    expect(await list()).toEqual([]);
    expect(await list("--all")).toEqual([mined.stats["collection"]]);
    // a second run of queries finds every passage done
    const again = await mainCli(
      ["--json", "embed", "queries", "--corpus", file("corpus.jsonl"), "--out", file("pairs.jsonl")],
      env,
    );
    expect(JSON.parse(again.stdout)).toMatchObject({ skipped: 4, queries_written: 0 });
  });

  it("--from-qrels writes the judged train queries with their documents", async () => {
    const beir = file("beir");
    await mkdir(path.join(beir, "qrels"), { recursive: true });
    await writeFile(path.join(beir, "corpus.jsonl"), await readFile(file("corpus.jsonl")));
    await writeFile(path.join(beir, "queries.jsonl"), await readFile(file("queries.jsonl")));
    await writeFile(path.join(beir, "qrels", "train.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td3\t1\n");
    const r = await mainCli(["--json", "embed", "queries", "--from-qrels", beir, "--out", file("train.jsonl")], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ pairs: 1, split: "train" });
    expect(await readPairs(file("train.jsonl"))).toEqual([
      {
        query: "how do bees share where flowers are",
        pos: [`Bees\n${DOCS[0]!.text}`, `Dances\n${DOCS[2]!.text}`],
        source: "qrels",
        pos_ids: ["d1", "d3"],
      },
    ]);
  });

  it("names what is wrong: a pairs line, the range, the retriever, an empty corpus", async () => {
    await writeFile(file("bad.jsonl"), '{"query": "q", "pos": ["p"]}\n{"query": "", "pos": ["p"]}\n');
    const bad = await mainCli(["embed", "mine", file("bad.jsonl"), "--out", file("x.jsonl")], env);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(`${file("bad.jsonl")}:2:query`);
    const range = await mainCli(
      ["embed", "mine", file("pairs.jsonl"), "--range", "200-2", "--out", file("x.jsonl")],
      env,
    );
    expect(range.code).toBe(2);
    expect(range.stderr).toContain("--range");
    const retriever = await mainCli(
      ["embed", "mine", file("pairs.jsonl"), "--retriever", "splade", "--out", file("x.jsonl")],
      env,
    );
    expect(retriever.code).toBe(2);
    expect(retriever.stderr).toMatch(/--retriever.*bm25, dense, hybrid/s);
    await writeFile(file("empty.jsonl"), "\n");
    const empty = await mainCli(["embed", "queries", "--corpus", file("empty.jsonl"), "--out", file("y.jsonl")], env);
    expect(empty.code).toBe(3);
    expect(empty.stderr).toContain("holds no passages");
    const help = await mainCli(["embed", "queries", "--help"], env);
    expect(help.stdout).toContain("infuse embed queries --corpus corpus.jsonl --out pairs.jsonl");
  });
});
