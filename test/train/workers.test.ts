// --workers 2: a worker thread computes half of every micro-batch; the summed gradients equal one
// thread's, so the loss curve matches the single-thread run's (to float rounding) and the model learns;
// so does the curve with gradient checkpointing. A LoRA worker that cannot load its base fails with
// the loader's own error code and kind.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { attachLora } from "../../src/models/lora/attach.js";
import { LoraTask } from "../../src/train/lora-task.js";
import type { TuneOptions } from "../../src/train/options.js";
import { tune } from "../../src/train/tune.js";
import { startWorkers } from "../../src/train/workers.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";

const dir = tempDir();
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(40));
writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
const opts = (out: string, workers: number): TuneOptions => ({
  model: fixture("models/stories260K-gguf/stories260K.gguf"),
  data: [{ path: data }],
  out,
  template: path.join(dir, "qa.txt"),
  maxSteps: 6,
  batchSize: 6,
  lr: 1e-2,
  dropout: 0,
  seed: 5,
  workers,
});
const losses = (out: string): number[] =>
  readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { loss?: number })
    .filter((l) => l.loss !== undefined)
    .map((l) => l.loss!);

describe("data-parallel workers", () => {
  it("matches the single-thread loss curve with 2 workers", async () => {
    const one = path.join(dir, "one");
    const two = path.join(dir, "two");
    await tune(opts(one, 1));
    const r = await tune(opts(two, 2));
    expect(r.steps).toBe(6);
    const [a, b] = [losses(one), losses(two)];
    expect(b).toHaveLength(6);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(2e-3);
    expect(b[5]!).toBeLessThan(b[0]! * 0.5);
    // Gradient checkpointing (with 2 workers too) follows the same curve.
    const ckpt = path.join(dir, "ckpt");
    await tune({ ...opts(ckpt, 2), gradientCheckpointing: true });
    losses(ckpt).forEach((l, i) => expect(Math.abs(l - a[i]!)).toBeLessThan(2e-3));
  }, 300_000);
});

describe("a LoRA worker's error", () => {
  it("reaches the main thread with the code and kind it has in this thread", async () => {
    const broken = path.join(dir, "broken.gguf");
    writeFileSync(broken, readFileSync(fixture("models/stories260K-gguf/stories260K.gguf")).subarray(0, 64));
    const here = await loadLlama(broken).then(
      () => null,
      (e: unknown) => e,
    );
    expect(here).toBeInstanceOf(InfuseError);
    const { code, kind } = here as InfuseError;
    const { model } = await loadLlama(fixture("models/stories260K-gguf/stories260K.gguf"));
    const lora = attachLora(model, { r: 2, alpha: 4, dropout: 0, rslora: false, targets: ["q_proj"], seed: 0 });
    const task = new LoraTask({
      model,
      lora,
      train: [],
      val: [],
      limits: { batchSize: 1 },
      padId: 0,
      seed: 0,
      gradientCheckpointing: false,
      fingerprint: "",
      source: { model: broken },
    });
    await expect(startWorkers(task, 2)).rejects.toMatchObject({ code, kind, details: { worker: 1 } });
  }, 60_000);
});
