// The contrastive task of `embed tune` on a tiny BERT GGUF (real MiniLM vocabulary, random weights):
// GradCache gives the plain path's gradients, worker threads give one thread's (the batch's negatives
// shared by both), and the trainer seam's conformance suite.
import { describe, expect, it } from "vitest";
import type { TrainingTask } from "../../src/train/task.js";
import { startWorkers } from "../../src/train/workers.js";
import { grads, loopIn, makeTask, relDiff } from "./embed-helpers.js";
import { tempDir } from "./helpers.js";
import { trainingTaskConformance } from "./task-conformance.js";

const dir = tempDir("infuse-embed-task-");

describe("GradCache", () => {
  it("gives the plain path's loss and gradients (1e-5), in chunks of 3 texts", async () => {
    const [plain, cached] = [await makeTask(), await makeTask({ settings: { gradCacheChunk: 3 } })];
    const batch = plain.epochBatches(0)[0]!;
    const a = plain.microStep(batch, 0.5);
    const b = cached.microStep(batch, 0.5);
    expect(Math.abs(a - b)).toBeLessThan(1e-5 * Math.abs(a));
    expect(relDiff(grads(plain), grads(cached))).toBeLessThan(1e-5);
  });

  it("without in-batch negatives too, and with LoRA adapters", async () => {
    const s = { inBatchNegatives: false };
    const [plain, cached] = [
      await makeTask({ settings: s, lora: true }),
      await makeTask({ settings: { ...s, gradCacheChunk: 2 }, lora: true }),
    ];
    for (const t of [plain, cached]) {
      t.setTraining(false); // no dropout: the two paths would draw differently
      for (const p of t.params) p.data.forEach((v, i) => (p.data[i] = v + 0.01 * ((i % 5) - 2)));
    }
    const batch = plain.epochBatches(0)[1]!;
    plain.microStep(batch, 1);
    cached.microStep(batch, 1);
    expect(relDiff(grads(plain), grads(cached))).toBeLessThan(1e-5);
  });
});

describe("workers", () => {
  it("2 workers: each re-encodes its half against the whole batch's negatives; gradients equal one thread's", async () => {
    const [one, two] = [await makeTask(), await makeTask()];
    const batches = one.epochBatches(0).slice(0, 2);
    let loss = 0;
    for (const b of batches) loss += one.microStep(b, 1 / batches.length) / batches.length;
    const pool = await startWorkers(two, 2);
    try {
      const shared = await pool.step(batches, 0);
      expect(Math.abs(shared - loss)).toBeLessThan(1e-5 * loss);
    } finally {
      await pool.close();
    }
    expect(relDiff(grads(one), grads(two))).toBeLessThan(1e-5);
  }, 30_000);
});

describe("TrainingTask conformance: contrastive encoder", () => {
  trainingTaskConformance(
    async () => (await makeTask()) as unknown as TrainingTask,
    loopIn(dir, "conformance", { maxSteps: 5 }),
    3,
  );
});
