// `infuse tune` end to end in a child process: --dry-run on the financial QA CSV with named columns,
// a record error's exit code and message, Ctrl-C saving a checkpoint that --resume finishes,
// `infuse generate --adapter`, and `infuse tune merge`.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir();

describe("infuse tune", () => {
  it("--dry-run prints counts, token lengths, truncation and 3 rendered examples", async () => {
    const csv = fixture("datasets/financial-qa/syntheses_10.csv");
    const args = [
      "tune",
      MODEL,
      "--data",
      csv,
      "--instruction-column",
      "question",
      "--input-column",
      "evidence_text",
      "--output-column",
      "answer",
      "--max-length",
      "1024",
      "--dry-run",
      "--estimate-steps",
      "0",
    ];
    const json = await runCli([...args, "--json"]);
    expect(json.code).toBe(0);
    const r = JSON.parse(json.stdout) as {
      records: { train: number };
      examples: { train: number; val: number };
      truncated: number;
      dropped: number;
      tokens: { max: number };
      samples: { text: string; learned: string }[];
      template: string;
    };
    expect(r.records.train).toBe(150);
    expect(r.template).toBe("alpaca");
    expect(r.dropped).toBe(0); // long 10-K excerpts lose their middle, answers stay
    expect(r.examples.train + r.examples.val).toBe(150);
    expect(r.truncated).toBeGreaterThan(50); // 10-K excerpts are long
    expect(r.tokens.max).toBeGreaterThan(1024);
    expect(r.samples).toHaveLength(3);
    expect(r.samples[0]!.text).toContain("### Instruction:");
    const human = await runCli(args);
    expect(human.stdout).toMatch(/records: 150 train/);
    expect(human.stdout).toMatch(/truncated to 1024 tokens: \d+/);
    expect(human.stdout).toContain("--- example 3");
  }, 120_000);

  it("exits 3 naming the record and field of a bad dataset", async () => {
    const bad = writeJsonl(path.join(dir, "bad.jsonl"), [
      { instruction: "a", output: "b" },
      { instruction: "c", response: "d" },
    ]);
    const r = await runCli(["tune", MODEL, "--data", bad, "--dry-run"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${bad}:2: field "output" is missing`);
  }, 60_000);

  it("saves a checkpoint on Ctrl-C, finishes with --resume, and merges into a GGUF", async () => {
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(60));
    writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
    const out = path.join(dir, "out");
    const args = [
      "tune",
      MODEL,
      "--data",
      data,
      "--out",
      out,
      "--template",
      path.join(dir, "qa.txt"),
      "--max-steps",
      "12",
      "-b",
      "2",
      "--lr",
      "5e-3",
    ];
    const first = await runCli(args, {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          const metrics = path.join(out, "metrics.jsonl");
          if (existsSync(metrics) && readFileSync(metrics, "utf8").includes('"step":2,')) {
            clearInterval(timer);
            child.kill("SIGINT");
          }
        }, 100);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/--resume/);
    const second = await runCli([...args, "--resume", "--json"]);
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    const r = JSON.parse(second.stdout) as { steps: number; resumed_from: string; files: string[] };
    expect(r.resumed_from).toMatch(/step-0000\d\d/);
    expect(r.steps).toBeLessThan(12);
    for (const f of r.files) expect(existsSync(f)).toBe(true);
    const gen = (extra: string[]) =>
      runCli([
        "generate",
        MODEL,
        "-p",
        "Q: What is the dragon called? \nA:",
        "--temperature",
        "0",
        "-n",
        "16",
        "--json",
        ...extra,
      ]);
    const [withAdapter, without] = [await gen(["--adapter", out]), await gen([])];
    expect(withAdapter.code).toBe(0);
    expect((JSON.parse(withAdapter.stdout) as { text: string }).text).not.toBe(
      (JSON.parse(without.stdout) as { text: string }).text,
    );
    const merged = path.join(dir, "merged.gguf");
    const m = await runCli(["tune", "merge", MODEL, out, "--out", merged, "--json"]);
    expect(m.code).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ merged: 10, tensors: 48, widened: [] });
  }, 240_000);
});
