// Careless datasets and settings fail before training with named errors: an empty file, records all cut
// away by --max-length, a rank wider than the model's layers, more workers than cores; a task whose
// epoch runs empty stops instead of spinning; a 5 MB record does not overflow the call stack.
import { existsSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { TuneOptions } from "../../src/train/options.js";
import { runTraining, type LoopOptions } from "../../src/train/trainer.js";
import { dryRunTune, tune } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";
import { TinyClassifierTask } from "./tiny-task.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir("infuse-hostile-data-");
writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
const facts = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(12));
const opts = (out: string, data: string, extra: Partial<TuneOptions> = {}): TuneOptions => ({
  model: MODEL,
  data: [{ path: data }],
  out: path.join(dir, out),
  template: path.join(dir, "qa.txt"),
  ...extra,
});

describe("a dataset with no training example", () => {
  it("an empty file is train.no_examples before training, with or without --max-steps", async () => {
    const empty = path.join(dir, "empty.jsonl");
    writeFileSync(empty, "");
    for (const extra of [{ maxSteps: 5 }, {}]) {
      const run = tune(opts("empty-out", empty, extra));
      await expect(run).rejects.toMatchObject({ code: "train.no_examples", kind: "input" });
      await expect(run).rejects.toThrow(`${empty} hold no record`);
    }
    expect(existsSync(path.join(dir, "empty-out", "adapter_model.safetensors"))).toBe(false);
  }, 60_000);

  it("records all cut to nothing by --max-length name the flag and the longest record", async () => {
    const run = tune(opts("short-out", facts, { maxLength: 4, maxSteps: 5 }));
    await expect(run).rejects.toMatchObject({
      code: "train.no_examples",
      kind: "input",
      message: expect.stringContaining("--max-length 4") as unknown,
      hint: expect.stringContaining("raise --max-length") as unknown,
    });
  }, 60_000);

  it("a task whose later epoch is empty stops with train.no_examples instead of spinning", async () => {
    class OneEpochTask extends TinyClassifierTask {
      override epochBatches(epoch: number): number[][] {
        return epoch === 0 ? super.epochBatches(epoch) : [];
      }
    }
    const settings = { seed: 1, examples: 16, dim: 3, classes: 2, batchSize: 8, dropout: 0 };
    const loop: LoopOptions = {
      out: path.join(dir, "one-epoch"),
      resume: false,
      lr: 0.05,
      schedule: "constant",
      warmupSteps: 0,
      weightDecay: 0,
      gradAccum: 1,
      clip: 1,
      epochs: 1,
      maxSteps: 1000, // the epoch limit is then Infinity: only the empty epoch can end the loop
      evalEvery: 0,
      patience: 0,
      saveEvery: 0,
      logEvery: 1,
    };
    await expect(runTraining(new OneEpochTask(settings), loop)).rejects.toMatchObject({
      code: "train.no_examples",
    });
    class NoDataTask extends TinyClassifierTask {
      override epochBatches(): number[][] {
        return [];
      }
    }
    const none = runTraining(new NoDataTask(settings), { ...loop, out: path.join(dir, "no-data") });
    await expect(none).rejects.toMatchObject({ code: "train.no_examples" });
    expect(existsSync(path.join(dir, "no-data"))).toBe(false); // refused before the folder is made
  }, 60_000);
});

describe("settings beyond the model and the machine", () => {
  it("a rank wider than the adapted layers is train.rank_too_large, before any adapter is allocated", async () => {
    const run = tune(opts("rank-out", facts, { rank: 100_000, maxSteps: 1 }));
    await expect(run).rejects.toMatchObject({ code: "train.rank_too_large", kind: "usage" });
    // stories260K: q_proj is 64 × 64, v_proj 64 in and 64 out (no GQA)
    await expect(run).rejects.toThrow(/rank = 100000 is larger than blk\.0\.attn_[qv] allows/);
  }, 60_000);

  it("more workers than cores is train.too_many_workers, before a thread starts", async () => {
    const cores = availableParallelism();
    const run = tune(opts("workers-out", facts, { workers: cores + 1, maxSteps: 1 }));
    await expect(run).rejects.toMatchObject({
      code: "train.too_many_workers",
      kind: "usage",
      hint: `set --workers (workers) to at most ${cores}`,
    });
    expect(existsSync(path.join(dir, "workers-out"))).toBe(false);
  });
});

describe("a huge record", () => {
  it("a 5 MB response is tokenized, truncated and counted without overflowing the call stack", async () => {
    const big = writeJsonl(path.join(dir, "big.jsonl"), [
      { instruction: "Say a lot.", input: "", output: "a".repeat(5_000_000) },
      ...factRecords(3),
    ]);
    const report = await dryRunTune({ ...opts("", big), out: "", maxLength: 64, valFraction: 0 });
    expect(report.records.train).toBe(4);
    expect(report.truncated).toBe(1);
    expect(report.examples.train).toBe(4);
    expect(report.tokens.max).toBeGreaterThan(1_000_000);
  }, 60_000);
});
