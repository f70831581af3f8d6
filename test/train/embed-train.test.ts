// Short contrastive runs of the tiny encoder: full fine-tuning raises in-batch accuracy and MRR on
// pairs whose query and positive share no word; LoRA trains the adapters and leaves the encoder's
// own weights as loaded.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { runTraining } from "../../src/train/trainer.js";
import { loopIn, makeTask } from "./embed-helpers.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("infuse-embed-train-");
const digest = (a: Float32Array) =>
  createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");

describe("training the encoder", () => {
  it("raises in-batch accuracy and MRR on pairs whose query and positive share no word", async () => {
    const task = await makeTask({ settings: { batchSize: 6 } });
    const before = task.evaluate()!;
    const loop = { ...loopIn(dir, "full")("run"), lr: 3e-3, maxSteps: 30, gradAccum: 1, evalEvery: 0 };
    const r = await runTraining(task, loop);
    const after = task.evaluate()!;
    expect(r.steps).toBe(30);
    expect(after.eval_loss).toBeLessThan(before.eval_loss);
    expect(after["eval_accuracy"]!).toBeGreaterThan(before["eval_accuracy"]! + 0.3);
    expect(after["eval_mrr"]!).toBeGreaterThan(before["eval_mrr"]!);
  }, 60_000);

  it("trains LoRA adapters only: the encoder's own weights stay as loaded", async () => {
    const task = await makeTask({ lora: true, settings: { batchSize: 6 } });
    const base = task.model.parameters().map((p) => digest(p.data));
    expect(task.params).toHaveLength(2 * 2); // A and B on attn_q and attn_v of one block
    const before = task.evaluate()!;
    const loop = { ...loopIn(dir, "lora")("run"), lr: 1e-2, maxSteps: 20, gradAccum: 1, evalEvery: 0 };
    await runTraining(task, loop);
    expect(task.evaluate()!.eval_loss).toBeLessThan(before.eval_loss);
    expect(task.model.parameters().map((p) => digest(p.data))).toEqual(base);
    expect(task.lora!.params()[1]!.data.some((v) => v !== 0)).toBe(true); // B moved off zero
  }, 60_000);
});
