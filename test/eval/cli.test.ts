// `infuse eval` as a user runs it: table and --json output, the HTML report, exit codes and hints.
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";

let dir: string;
let env: Record<string, string>;
let beir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "infuse-evalcli-"));
  env = { INFUSE_HOME: path.join(dir, "home"), INFUSE_CACHE: path.join(dir, "cache") };
  beir = path.join(dir, "toy");
  await mkdir(path.join(beir, "qrels"), { recursive: true });
  const docs = [
    { _id: "d1", title: "Penguins", text: "Emperor penguins breed in the Antarctic winter." },
    { _id: "d2", title: "Tea", text: "Black tea leaves are oxidised before drying." },
  ];
  await writeFile(path.join(beir, "corpus.jsonl"), docs.map((d) => JSON.stringify(d)).join("\n"));
  await writeFile(
    path.join(beir, "queries.jsonl"),
    [JSON.stringify({ _id: "q1", text: "penguins breed" }), JSON.stringify({ _id: "q2", text: "oxidised tea" })].join(
      "\n",
    ),
  );
  await writeFile(
    path.join(beir, "qrels", "test.tsv"),
    "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td1\t0\nq2\td2\t2\n",
  );
});

describe("infuse eval retrieval", () => {
  it("prints one JSON object per configuration and writes the HTML report", async () => {
    const report = path.join(dir, "r.html");
    const r = await runCli(
      ["eval", "retrieval", "--beir", beir, "--retriever", "bm25,bm25+rm3", "--report", report, "--json"],
      { env },
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { results: Record<string, unknown>[] };
    expect(out.results.map((x) => x["retriever"])).toEqual(["bm25", "bm25+rm3"]);
    expect(out.results[0]).toMatchObject({ "ndcg@10": 1, "recall@100": 1, "mrr@10": 1, map: 1 });
    expect((await readFile(report, "utf8")).match(/<svg /g)!.length).toBeGreaterThanOrEqual(5);
    const table = await runCli(["eval", "retrieval", "--beir", beir], { env });
    expect(table.stdout).toMatch(/bm25\s+1\.0000\s+1\.0000\s+1\.0000\s+1\.0000\s+1\.0000\s+\(cached\)/);
  });

  it("compares recipe files with shorthands, on the first --limit queries", async () => {
    const recipe = path.join(dir, "mmr.json");
    await writeFile(
      recipe,
      JSON.stringify({ name: "bm25-diverse", retriever: { mode: "bm25" }, mmr: { lambda: 0.9 } }),
    );
    const r = await runCli(
      ["eval", "retrieval", "--beir", beir, "--retriever", "bm25", "--recipe", recipe, "--limit", "1", "--json"],
      { env },
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { queries: number; limit: number; results: Record<string, unknown>[] };
    expect(out).toMatchObject({ queries: 1, limit: 1 });
    expect(out.results.map((x) => [x["retriever"], x["queries"]])).toEqual([
      ["bm25", 1],
      ["bm25-diverse", 1],
    ]);
    await writeFile(recipe, JSON.stringify({ mmr: { lambda: "high" } }));
    const bad = await runCli(["eval", "retrieval", "--beir", beir, "--recipe", recipe], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${recipe}: "mmr.lambda"`);
  });

  it("exits 4 with the missing file named and a hint", async () => {
    const missing = await runCli(["eval", "retrieval", "--beir", beir, "--split", "dev"], { env });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(path.join("qrels", "dev.tsv"));
    expect(missing.stderr).toContain("hint:");
  });
});

describe("infuse eval answers", () => {
  it("scores given answers", async () => {
    const data = path.join(dir, "qa.jsonl");
    await writeFile(data, JSON.stringify({ question: "capital of France?", answer: "Paris", prediction: "Paris." }));
    const r = await runCli(["eval", "answers", data], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/exact match +1\.0000\n/);
    expect(r.stdout).toMatch(/F1 +1\.0000\n/);
    expect(r.stdout).toContain("given answers");
  });

  it("compares llama.cpp and the engine on one model, closed-book and rag, one column each", async () => {
    const stories = fixture("models/stories260K-gguf/stories260K.gguf");
    const data = path.join(dir, "v2.jsonl");
    const rows = [
      { question: "What color was Lily's ball?", answers: ["red"], context: "Lily had a red ball in the park." },
      { question: "What was the name of Lily's dog?", answers: [], context: "Lily had a red ball in the park." },
    ];
    await writeFile(data, rows.map((row) => JSON.stringify(row)).join("\n"));
    const report = path.join(dir, "answers.html");
    const args = [
      "eval",
      "answers",
      data,
      "--llm",
      `engine:${stories}`,
      "--llm",
      stories,
      "--setting",
      "closed-book,rag",
    ];
    const r = await runCli([...args, "-n", "6", "--report", report, "--json"], { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      unanswerable: number;
      configurations: { name: string; no_answer: unknown }[];
    };
    expect(out.unanswerable).toBe(1);
    expect(out.configurations.map((c) => c.name)).toEqual([
      "closed-book · engine:stories260K.gguf",
      "closed-book · gguf:stories260K.gguf",
      "rag · engine:stories260K.gguf",
      "rag · gguf:stories260K.gguf",
    ]);
    expect(await readFile(report, "utf8")).toContain("unanswerable abstained");
    const bad = await runCli(["eval", "answers", data, "--setting", "open-book"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("closed-book, rag");
  });
});
