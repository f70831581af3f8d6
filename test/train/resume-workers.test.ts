// Resume of a data-parallel run (--workers 2): a run aborted after step 3 saves a checkpoint, and
// --resume finishes it to the adapter bytes and metrics of an uninterrupted 2-worker run. Dropout is on,
// so the worker's dropout stream has to follow the step the run resumed at, not restart.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { latestCheckpoint } from "../../src/train/checkpoint.js";
import type { TuneOptions } from "../../src/train/options.js";
import { tune } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";

const dir = tempDir();
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(24));
writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
const base = (out: string): TuneOptions => ({
  model: fixture("models/stories260K-gguf/stories260K.gguf"),
  data: [{ path: data }],
  out,
  template: path.join(dir, "qa.txt"),
  maxSteps: 5,
  batchSize: 4,
  gradAccum: 2,
  lr: 5e-3,
  dropout: 0.1,
  evalEvery: 2,
  seed: 3,
  workers: 2,
});
const bytes = (out: string): Buffer => readFileSync(path.join(out, "adapter_model.safetensors"));
const metricLines = (out: string): string[] =>
  readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.stringify({ ...JSON.parse(l), tokens_per_s: 0, elapsed_s: 0 }));

describe("resume with 2 workers", () => {
  it("continues an aborted 2-worker run bit for bit", async () => {
    const straight = path.join(dir, "straight");
    await tune(base(straight));
    const cut = path.join(dir, "cut");
    const ctl = new AbortController();
    await expect(
      tune(base(cut), { signal: ctl.signal, onMetric: (m) => m.step === 3 && ctl.abort() }),
    ).rejects.toMatchObject({ code: "cancelled" });
    expect(path.basename((await latestCheckpoint(cut))!)).toBe("step-000003");
    const resumed = await tune({ ...base(cut), resume: true });
    expect(resumed.resumedFrom).toContain("step-000003");
    expect(resumed.steps).toBe(2);
    expect(metricLines(cut)).toEqual(metricLines(straight));
    expect(bytes(cut).equals(bytes(straight))).toBe(true);
  }, 300_000);
});
