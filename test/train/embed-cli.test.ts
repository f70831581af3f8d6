// `infuse embed tune` as a user runs it: --json with the before/after table of a BEIR folder (start
// and tuned, dense and hybrid) and its nDCG@10 at each evaluation, --dry-run's counts, and the
// errors of bad input (a pair without pos, a bad temperature, no --data) with exit codes and hints.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { tinyBert } from "./embed-helpers.js";
import { synthPairs, writePairs } from "./embed-pairs.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("infuse-embed-cli-");
const env = { INFUSE_HOME: path.join(dir, "home") };
const pairs = synthPairs(12, 5);
const pairsFile = writePairs(path.join(dir, "pairs.jsonl"), pairs);
let model = "";

/** A BEIR folder of the synthetic pairs: each positive a document, each query judged to it. */
function writeBeir(root: string): string {
  mkdirSync(path.join(root, "qrels"), { recursive: true });
  const lines = (xs: object[]) => xs.map((x) => JSON.stringify(x)).join("\n") + "\n";
  writeFileSync(
    path.join(root, "corpus.jsonl"),
    lines(pairs.map((p, i) => ({ _id: `d${i}`, title: "", text: p.pos[0] }))),
  );
  writeFileSync(path.join(root, "queries.jsonl"), lines(pairs.map((p, i) => ({ _id: `q${i}`, text: p.query }))));
  const qrels = pairs.map((_, i) => `q${i}\td${i}\t1`).join("\n");
  writeFileSync(path.join(root, "qrels", "test.tsv"), `query-id\tcorpus-id\tscore\n${qrels}\n`);
  return root;
}

beforeAll(async () => {
  model = await tinyBert();
});

const common = ["--batch-size", "4", "--group-size", "3", "--query-max-length", "16", "--passage-max-length", "16"];

describe("infuse embed tune", () => {
  it("--json: trains, writes the model folder and scores start and tuned side by side", async () => {
    const beir = writeBeir(path.join(dir, "beir"));
    const out = path.join(dir, "out");
    const r = await runCli(
      [
        "--json",
        "embed",
        "tune",
        model,
        "--data",
        pairsFile,
        "--out",
        out,
        "--max-steps",
        "3",
        "--lr",
        "3e-3",
        ...common,
      ].concat(["--eval-beir", beir, "--eval-split", "test", "--eval-every", "3"]),
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      steps: number;
      model_dir: string;
      before_after: { model: string; retriever: string; "ndcg@10": number; "mrr@10": number }[];
    };
    expect(report.steps).toBe(3);
    expect(report.model_dir).toBe(path.join(out, "model"));
    expect(report.before_after.map((x) => `${x.model}/${x.retriever}`)).toEqual([
      "start/dense",
      "start/hybrid",
      "tuned/dense",
      "tuned/hybrid",
    ]);
    for (const row of report.before_after) expect(row["ndcg@10"]).toBeGreaterThan(0);
    // during training, each evaluation also scored the BEIR folder (dense, in memory)
    const metrics = readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    const last = JSON.parse(metrics.at(-1)!) as Record<string, number>;
    expect(last["eval_ndcg@10"]).toBeGreaterThan(0);
    expect(last["eval_accuracy"]).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it("--dry-run counts pairs and steps; bad input fails with its exit code and a hint", async () => {
    const bad = path.join(dir, "bad.jsonl");
    writeFileSync(bad, JSON.stringify(pairs[0]) + "\n" + JSON.stringify({ query: "no positive" }) + "\n");
    const [dry, noPos, temp, noData] = await Promise.all([
      runCli(["--json", "embed", "tune", model, "--data", pairsFile, "--dry-run", "--epochs", "2", ...common], { env }),
      runCli(["embed", "tune", model, "--data", bad, "--out", path.join(dir, "o1"), ...common], { env }),
      runCli(["embed", "tune", model, "--data", pairsFile, "--out", path.join(dir, "o2"), "--temperature", "-1"], {
        env,
      }),
      runCli(["embed", "tune", model, "--out", path.join(dir, "o3")], { env }),
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ train_pairs: 11, val_pairs: 1, steps_per_epoch: 3, total_steps: 6 });
    expect(noPos.code).toBe(3); // input
    expect(noPos.stderr).toContain("bad.jsonl:2:pos");
    expect(temp.code).toBe(2); // usage
    expect(temp.stderr).toContain("--temperature");
    expect(noData.code).toBe(2);
    expect(noData.stderr).toContain("--data");
  }, 60_000);
});
