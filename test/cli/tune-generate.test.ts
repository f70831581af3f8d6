// `infuse tune` and `infuse generate` as a new user meets them (issue 15), in child processes (no
// terminal, as under nohup or CI): the dry run's column mapping, truncation warning, step count and
// estimate; progress lines with an ETA during a run; `tune merge --help` listing -o/--out;
// `generate --template`.
import path from "node:path";
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "../train/helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const CSV = fixture("datasets/financial-qa/syntheses_10.csv");
const dir = tempDir("infuse-cli-tune-");
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(40));
const template = path.join(dir, "qa.txt");
writeFileSync(template, QA_TEMPLATE);

describe("infuse tune without a terminal", () => {
  it("--dry-run maps the financial CSV's columns, warns of cut records, marks the cut, counts steps", async () => {
    const r = await runCli(["tune", MODEL, "--data", CSV, "--dry-run", "--estimate-steps", "0"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${CSV}: columns question → instruction, evidence_text → input, answer → output`);
    expect(r.stdout).toMatch(/warning: 86% of training records \(129 of 150\) exceed 512 tokens and are cut/);
    expect(r.stdout).toMatch(/\[… \d+ tokens cut …\]/);
    expect(r.stdout).toContain("steps: 34 (34 an epoch)\n");
    const timed = await runCli(["tune", MODEL, "--data", data, "--template", template, "--dry-run", "--epochs", "2"]);
    expect(timed.stdout).toMatch(
      /steps: 18 \(9 an epoch\); about \S+ in one thread \([\d.]+ s a step measured over 1, 2 evaluations of [\d.]+ s\)/,
    );
  }, 60_000);

  it("prints progress lines with the ETA, and tokens/s of training time", async () => {
    const out = path.join(dir, "run");
    const args = ["tune", MODEL, "--data", data, "--template", template, "--out", out, "--max-steps", "3"];
    const r = await runCli([...args, "-b", "12", "--progress-every", "0"]);
    expect(r.code).toBe(0);
    for (const step of [1, 2, 3])
      expect(r.stdout).toMatch(new RegExp(`^train: step ${step}/3 \\(\\d+%\\) loss [\\d.]+ · eta \\S+$`, "m"));
    expect(r.stdout).toMatch(/tokens\/s of training; evaluation took [\d.]+ s/);
  }, 60_000);

  it("tune merge --help lists -o, --out", async () => {
    const r = await runCli(["tune", "merge", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/-o, --out <file>/);
  });
});

describe("infuse generate --template", () => {
  it("formats --chat with a named template or a prompt file; --template needs --chat", async () => {
    const gen = (extra: string[]) => runCli(["generate", MODEL, "-n", "2", "--temperature", "0", "--json", ...extra]);
    const named = await gen(["--chat", "hi", "--template", "chatml"]);
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({
      chat_template: "chatml",
      prompt_tokens: expect.any(Number) as unknown,
    });
    const file = await gen(["--chat", "hi", "--template", template]);
    expect(file.code).toBe(0);
    expect(JSON.parse(file.stdout)).toMatchObject({ chat_template: template });
    const prompt = await gen(["--prompt", "hi", "--template", "chatml"]);
    expect(prompt.code).toBe(2);
    expect(prompt.stdout).toContain("cli.template_needs_chat");
  }, 60_000);
});
