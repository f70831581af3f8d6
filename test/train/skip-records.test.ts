// --skip-bad-records: in every format (Alpaca JSONL and JSON array, chat JSONL, CSV) a malformed record
// is an error naming file, record and field by default; with the option the good records load, and the
// count and first reasons of the skipped ones are reported (dry run, the run's warning, tune-config.json).
// A file with no good record stays an error, and so do whole-file faults.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readRecords, loadRecords, type TrainRecord, type SkipReport } from "../../src/train/data/records.js";
import { resolveTuneOptions } from "../../src/train/options.js";
import { dryRunTune, tune } from "../../src/train/tune.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir } from "./helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir();
const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};
const line = (v: unknown): string => JSON.stringify(v);
const instructions = (rs: TrainRecord[]): string[] => rs.map((r) => (r.kind === "instruction" ? r.instruction : "?"));
const reasons = (s: SkipReport): { record: string; field?: string }[] =>
  s.first.map(({ record, field }) => ({ record, ...(field ? { field } : {}) }));

// Alpaca JSONL: good at lines 1, 4, 7; bad at 2 (missing output), 3 (not JSON), 5 (array field), 6 (not an object).
const alpacaLines = [
  line({ instruction: "one", input: "", output: "1" }),
  line({ instruction: "two", input: "" }),
  '{"instruction": "three", "output": ',
  line({ instruction: "four", output: "4" }),
  line({ instruction: ["five"], output: "5" }),
  "[6]",
  line({ instruction: "seven", input: "x", output: "7" }),
];

describe("bad records, strict and skipped", () => {
  it("Alpaca JSONL: strict names the first bad line and field; skipping keeps lines 1, 4, 7", async () => {
    const file = write("alpaca.jsonl", alpacaLines.join("\n") + "\n\n");
    await expect(loadRecords({ path: file })).rejects.toMatchObject({
      code: "train.bad_record",
      message: `${file}:2: field "output" is missing (fields: instruction, input)`,
      details: { record: `${file}:2`, field: "output" },
    });
    const { records, skipped } = await readRecords({ path: file }, { skipBadRecords: true });
    expect(instructions(records)).toEqual(["one", "four", "seven"]);
    expect(records.map((r) => r.where)).toEqual([`${file}:1`, `${file}:4`, `${file}:7`]);
    expect(skipped.count).toBe(4);
    expect(reasons(skipped)).toEqual([
      { record: `${file}:2`, field: "output" },
      { record: `${file}:3` },
      { record: `${file}:5`, field: "instruction" },
      { record: `${file}:6` },
    ]);
    expect(skipped.first[1]!.message).toMatch(new RegExp(`^${file}:3: not valid JSON`));
    expect(skipped.first[2]!.message).toBe(`${file}:5: field "instruction" is an array, expected text`);
    expect(skipped.first[3]!.message).toBe(`${file}:6: is not a JSON object`);
  });

  it("Alpaca JSON array: records are named by index", async () => {
    const file = write(
      "alpaca.json",
      JSON.stringify([
        { instruction: "a", output: "A" },
        { instruction: "b", output: "" },
        { instruction: "c", output: "C" },
        "d",
      ]),
    );
    await expect(loadRecords({ path: file })).rejects.toThrow(`${file} record 2: field "output" is empty`);
    const { records, skipped } = await readRecords({ path: file }, { skipBadRecords: true });
    expect(instructions(records)).toEqual(["a", "c"]);
    expect(reasons(skipped)).toEqual([{ record: `${file} record 2`, field: "output" }, { record: `${file} record 4` }]);
    // A broken array is the whole file's fault: no record to skip.
    const broken = write("broken.json", '[{"instruction": "a", "output": "A"},');
    await expect(readRecords({ path: broken }, { skipBadRecords: true })).rejects.toMatchObject({
      code: "train.bad_record",
      message: expect.stringContaining(`${broken}: not valid JSON`),
    });
  });

  it("chat JSONL: bad role, missing content and no assistant turn are skipped with their field", async () => {
    const turn = (role: string, content?: string) => (content === undefined ? { role } : { role, content });
    const file = write(
      "chat.jsonl",
      [
        line({ messages: [turn("user", "q1"), turn("assistant", "a1")] }),
        line({ messages: [turn("user", "q2"), turn("bot", "a2")] }),
        line({ messages: [turn("user"), turn("assistant", "a3")] }),
        line({ messages: [turn("user", "q4")] }),
        line({ messages: [turn("system", "s"), turn("user", "q5"), turn("assistant", "a5")] }),
      ].join("\n"),
    );
    await expect(loadRecords({ path: file })).rejects.toThrow(`${file}:2: messages[1].role is "bot"`);
    const { records, skipped } = await readRecords({ path: file }, { skipBadRecords: true });
    expect(records.map((r) => (r.kind === "chat" ? r.messages.at(-1)!.content : "?"))).toEqual(["a1", "a5"]);
    expect(reasons(skipped)).toEqual([
      { record: `${file}:2`, field: "messages[1].role" },
      { record: `${file}:3`, field: "messages[0].content" },
      { record: `${file}:4`, field: "messages" },
    ]);
  });

  it("CSV: a row of the wrong width or with an empty answer is skipped; a missing named column fails the file", async () => {
    const file = write("qa.csv", 'question,answer\nwhat?,yes\nhow?\n"why, then?","because"\nwho?,\nwhen?,now\n');
    const columns = { instruction: "question", output: "answer" };
    await expect(loadRecords({ path: file, columns })).rejects.toMatchObject({
      code: "train.bad_record",
      message: `${file}:3: 1 fields, the header has 2`,
    });
    const { records, skipped } = await readRecords({ path: file, columns }, { skipBadRecords: true });
    expect(instructions(records)).toEqual(["what?", "why, then?", "when?"]);
    expect(reasons(skipped)).toEqual([{ record: `${file}:3` }, { record: `${file}:5`, field: "answer" }]);
    // A column the header lacks makes every row bad: an error about the file, skipping or not (skipping
    // would reject every row, so the hint does not suggest it).
    const wrongCol = { instruction: "question", output: "reply" };
    const missing = {
      code: "train.missing_column",
      message: `${file}: no record has a field "reply" (fields: question, answer)`,
      hint: expect.not.stringContaining("--skip-bad-records") as unknown,
      details: { file, field: "reply" },
    };
    await expect(loadRecords({ path: file, columns: wrongCol })).rejects.toMatchObject(missing);
    await expect(readRecords({ path: file, columns: wrongCol }, { skipBadRecords: true })).rejects.toMatchObject(
      missing,
    );
    // An unclosed quote swallows the rest of the file: not one record to skip.
    const open = write("open.csv", 'question,answer\nwhat?,yes\n"how?,no\n');
    await expect(readRecords({ path: open, columns }, { skipBadRecords: true })).rejects.toThrow(
      `${open}:3: a quoted field is never closed`,
    );
  });

  it("counts every skipped record but keeps the first five reasons", async () => {
    const bad = Array.from({ length: 7 }, (_, i) => line({ instruction: `bad ${i}` }));
    const file = write("many.jsonl", [...bad, line({ instruction: "ok", output: "fine" })].join("\n"));
    const { records, skipped } = await readRecords({ path: file }, { skipBadRecords: true });
    expect(records).toHaveLength(1);
    expect(skipped.count).toBe(7);
    expect(skipped.first.map((s) => s.record)).toEqual([1, 2, 3, 4, 5].map((n) => `${file}:${n}`));
    const allBad = write("all-bad.jsonl", [...bad, "{not json"].join("\n"));
    await expect(readRecords({ path: allBad }, { skipBadRecords: true })).rejects.toMatchObject({
      code: "train.missing_column", // no record has "output": the file's fault, not a record's
      message: expect.stringContaining(`${allBad}: no record has a field "output"`),
    });
    const allBroken = write("all-broken.jsonl", ["{not json", "[1", line({ instruction: 3, output: [] })].join("\n"));
    await expect(readRecords({ path: allBroken }, { skipBadRecords: true })).rejects.toMatchObject({
      code: "train.no_good_records",
      message: expect.stringContaining(`${allBroken}: all 3 records are malformed`),
    });
  });
});

describe("skipBadRecords through tune", () => {
  const good = factRecords(12).map(line);
  const data = write(
    "train.jsonl",
    [good[0], line({ instruction: "x" }), ...good.slice(1, 6), "{oops", ...good.slice(6)].join("\n"),
  );
  const val = write("val.jsonl", [line({ instruction: "v", input: "", output: 3 }), line({ output: "w" })].join("\n"));
  writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
  const opts = { model: MODEL, data: [{ path: data }], template: path.join(dir, "qa.txt") };

  it("defaults to strict; the dry run and the run report the skipped records and go on with the rest", async () => {
    expect(resolveTuneOptions({ ...opts, out: "o" }).skipBadRecords).toBe(false);
    await expect(dryRunTune({ ...opts, out: "" })).rejects.toThrow(`${data}:2: field "output" is missing`);
    const dry = await dryRunTune({ ...opts, out: "", valData: [{ path: val }], skipBadRecords: true });
    expect(dry.records).toEqual({ train: 12, val: 1 });
    expect(dry.skipped.count).toBe(3);
    expect(reasons(dry.skipped)).toEqual([
      { record: `${data}:2`, field: "output" },
      { record: `${data}:8` },
      { record: `${val}:2`, field: "instruction" },
    ]);
    const out = path.join(dir, "run");
    const seen: SkipReport[] = [];
    const r = await tune(
      { ...opts, out, skipBadRecords: true, maxSteps: 1, batchSize: 4 },
      { onSkipped: (s) => seen.push(s) },
    );
    expect(r.steps).toBe(1);
    expect(r.trainExamples + r.valExamples).toBe(12);
    expect(r.skipped.count).toBe(2);
    expect(seen).toEqual([r.skipped]);
    const config = JSON.parse(readFileSync(path.join(out, "tune-config.json"), "utf8")) as {
      skipBadRecords: boolean;
      skippedRecords: SkipReport;
    };
    expect(config.skipBadRecords).toBe(true);
    expect(config.skippedRecords).toEqual(r.skipped);
  }, 120_000);

  it("infuse tune --skip-bad-records: the dry run prints the count and reasons, the run warns on stderr", async () => {
    const args = ["tune", MODEL, "--data", data, "--template", path.join(dir, "qa.txt"), "--skip-bad-records"];
    const dry = await runCli([...args, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `skipped 2 bad records: ${data}:2: field "output" is missing (fields: instruction); ${data}:8: not valid JSON`,
    );
    expect(dry.stdout).toMatch(/records: 12 train/);
    const out = path.join(dir, "cli-run");
    const run = await runCli([...args, "--out", out, "--max-steps", "1", "--json"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`warning: skipped 2 bad records: ${data}:2: field "output" is missing`);
    expect((JSON.parse(run.stdout) as { skipped: SkipReport }).skipped.count).toBe(2);
    const strict = await runCli([...args.slice(0, -1), "--dry-run"]);
    expect(strict.code).toBe(3);
    expect(strict.stderr).toContain(`${data}:2: field "output" is missing`);
    expect(strict.stderr).toContain("--skip-bad-records");
  }, 120_000);
});
