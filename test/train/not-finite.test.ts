// A step whose gradient is not finite stops training with tensor.grad_not_finite and writes no adapter:
// backward skips its per-op scan, so the trainer's gradient-norm check is what catches it, with
// clipping on and off.
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tune } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { factRecords, tempDir, writeJsonl } from "./helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir();
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(12));

describe("non-finite gradients", () => {
  for (const clip of [0, 1]) {
    it(`stop the run before the optimizer step (clip ${clip})`, async () => {
      const out = path.join(dir, `clip-${clip}`);
      // lr 3e38 sends the adapters to ±3e38 in one step (f32 max 3.4e38): the next forward overflows
      const run = tune({ model: MODEL, data: [{ path: data }], out, maxSteps: 4, batchSize: 2, lr: 3e38, clip });
      await expect(run).rejects.toMatchObject({ code: "tensor.grad_not_finite" });
      expect(existsSync(path.join(out, "adapter_model.safetensors"))).toBe(false);
    }, 120_000);
  }
});
