// What a new user meets around a tune run (issue 15): validation capped by --max-eval-samples and
// tokens/s without evaluation time; the dry run's step count, time estimate, truncation and context
// warnings with the cut marked; columns recognised by name; resume errors naming each differing
// setting and a finished run extended with more epochs.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadLlama } from "../../src/models/llama/load.js";
import { resolveTuneOptions } from "../../src/train/options.js";
import { dryRunTune, prepareTuneData, tune } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";
import { readFileSync, writeFileSync } from "node:fs";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const CSV = fixture("datasets/financial-qa/syntheses_10.csv");
const dir = tempDir("infuse-tune-ux-");
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(40));
const template = path.join(dir, "qa.txt");
writeFileSync(template, QA_TEMPLATE);

describe("validation", () => {
  it("holds out at most --max-eval-samples (the rest of the share trains); --val files are capped too", async () => {
    const { tokenizer } = await loadLlama(MODEL);
    const o = (extra: object) =>
      resolveTuneOptions({ model: MODEL, data: [{ path: data }], out: "", template, valFraction: 0.5, ...extra });
    const capped = await prepareTuneData(tokenizer, o({ maxEvalSamples: 3 }));
    expect([capped.train.length, capped.val.length]).toEqual([37, 3]);
    const uncapped = await prepareTuneData(tokenizer, o({ maxEvalSamples: 0 }));
    expect([uncapped.train.length, uncapped.val.length]).toEqual([20, 20]);
    expect(resolveTuneOptions({ model: MODEL, data: [{ path: data }], out: "" }).maxEvalSamples).toBe(200);
    const files = await prepareTuneData(tokenizer, o({ valData: [{ path: data }], maxEvalSamples: 5 }));
    expect([files.train.length, files.val.length]).toEqual([40, 5]);
  });
});

describe("tune --dry-run", () => {
  it("warns of records cut to --max-length with their share, marks the cut, and of a length past the context", async () => {
    const r = await dryRunTune({ model: MODEL, data: [{ path: CSV }], out: "" }, { measureSteps: 0 });
    expect(r.columns).toEqual([
      `${CSV}: columns question → instruction, evidence_text → input, answer → output (name them with --instruction-column, --input-column, --output-column)`,
    ]);
    expect(r.records.train).toBe(150);
    expect(r.warnings[0]).toMatch(/^86% of training records \(129 of 150\) exceed 512 tokens and are cut/);
    const cut = r.samples.find((s) => s.cutTokens > 0)!;
    expect(cut.text).toContain(`[… ${cut.cutTokens} tokens cut …]`);
    expect(cut.text).toMatch(/### Response:\n/); // the prompt lost its middle, the response stayed
    expect(r.estimate).toBeNull();
    expect(r.steps).toEqual({ perEpoch: 34, total: 34 }); // 135 training examples in batches of 4
    const long = await dryRunTune({ model: MODEL, data: [{ path: data }], out: "", template, maxLength: 4096 });
    expect(long.contextLength).toBe(2048);
    expect(long.warnings).toEqual([
      "--max-length 4096 exceeds the model's context of 2048 tokens: positions past it were never trained; use --max-length 2048 or less",
    ]);
  }, 60_000);

  it("the run warns of the cut records too, and lists them in truncated.jsonl", async () => {
    const out = path.join(dir, "cut");
    const warnings: string[] = [];
    const r = await tune(
      { model: MODEL, data: [{ path: CSV }], out, maxLength: 128, batchSize: 1, maxSteps: 1, maxEvalSamples: 1 },
      { onWarning: (w) => warnings.push(w) },
    );
    expect(warnings[0]).toMatch(/^100% of training records \(150 of 150\) exceed 128 tokens and are cut/);
    expect(r.files).toContain(path.join(out, "truncated.jsonl"));
    const cuts = readFileSync(path.join(out, "truncated.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as object);
    expect(cuts).toHaveLength(150);
    expect(cuts[0]).toMatchObject({ record: `${CSV}:2`, kept: 128 });
  }, 60_000);

  it("counts the steps and estimates the run's time from a measured step", async () => {
    const opts = { model: MODEL, data: [{ path: data }], out: "", template, epochs: 3, gradAccum: 2, evalEvery: 5 };
    const r = await dryRunTune(opts, { measureSteps: 1 });
    // 36 training examples, 9 micro-batches of 4, 5 steps an epoch, 15 in 3 epochs; evals at 0, 5, 10, 15
    expect(r.steps).toEqual({ perEpoch: 5, total: 15 });
    const e = r.estimate!;
    expect(e.measuredSteps).toBe(1);
    expect(e.evaluations).toBe(4);
    expect(e.totalSeconds).toBeCloseTo(e.secondsPerStep * 15 + e.secondsPerEvaluation * 4, 6);
    expect(e.secondsPerStep).toBeGreaterThan(0);
  }, 60_000);
});

describe("resume", () => {
  const base = (out: string) => ({ model: MODEL, data: [{ path: data }], out, template, batchSize: 12, lr: 5e-3 });

  it("names each setting that differs; extends a finished run with more epochs; a finished run is said so", async () => {
    const out = path.join(dir, "extend");
    const first = await tune(base(out)); // 36 examples in batches of 12: 3 steps, end state checkpointed
    expect(first.steps).toBe(3);
    expect(first.tokensPerSecond).toBeCloseTo(first.tokens / (first.seconds - first.evalSeconds), 6);
    const err = await tune({ ...base(out), rank: 16, alpha: 8, resume: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "train.checkpoint_mismatch", kind: "usage" });
    expect((err as Error).message).toContain(
      "rank (--rank): checkpoint 8, now 16; alpha (--alpha): checkpoint 16, now 8",
    );
    const lr = await tune({ ...base(out), lr: 1e-3, resume: true }).catch((e: unknown) => e);
    expect((lr as Error).message).toContain("lr (--lr): checkpoint 0.005, now 0.001");
    await expect(tune({ ...base(out), resume: true })).rejects.toMatchObject({
      code: "train.run_finished",
      hint: expect.stringContaining("--epochs") as unknown,
    });
    const more = await tune({ ...base(out), epochs: 2, resume: true });
    expect(more.resumedFrom).toMatch(/step-000003$/);
    expect(more.steps).toBe(3);
  }, 120_000);
});
