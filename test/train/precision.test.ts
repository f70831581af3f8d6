// --precision bf16: the frozen base's block matrices are held in bf16 (compute stays f32) and training
// follows the f32 run's loss curve closely (stories260K, 8 steps: within 2% per step); it cannot be
// combined with --quantize (a usage error naming both flags).
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { QuantTensor } from "../../src/tensor/index.js";
import { resolveTuneOptions, storageOption, type TuneOptions } from "../../src/train/options.js";
import { tune } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { factRecords, tempDir, writeJsonl } from "./helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir();
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(24));
const opts = (out: string): TuneOptions => ({
  model: MODEL,
  data: [{ path: data }],
  out,
  maxSteps: 8,
  batchSize: 3,
  lr: 5e-3,
  dropout: 0,
  valFraction: 0,
  seed: 3,
});
const losses = (out: string): number[] =>
  readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { loss?: number })
    .flatMap((l) => (l.loss === undefined ? [] : [l.loss]));

describe("--precision bf16", () => {
  it("holds the base's block matrices in bf16 and follows the f32 loss curve", async () => {
    const { model } = await loadLlama(MODEL, storageOption(resolveTuneOptions({ ...opts(dir), precision: "bf16" })));
    const q = model.weights.layers[0]!.q.weight;
    expect(q instanceof QuantTensor && q.type).toBe("bf16");
    const f32 = path.join(dir, "f32");
    const bf16 = path.join(dir, "bf16");
    await tune(opts(f32));
    const r = await tune({ ...opts(bf16), precision: "bf16" });
    expect(r.baseDtype).toBe("bf16");
    const [a, b] = [losses(f32), losses(bf16)];
    expect(b).toHaveLength(8);
    a.forEach((l, i) => expect(Math.abs(b[i]! - l) / l).toBeLessThan(0.02));
    expect(b.at(-1)!).toBeLessThan(b[0]!);
  }, 120_000);

  it("refuses --quantize beside it", () => {
    const err = (() => {
      try {
        resolveTuneOptions({ ...opts(dir), precision: "bf16", quantize: "q4_0" });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InfuseError);
    expect((err as InfuseError).code).toBe("train.bad_option");
    expect((err as InfuseError).message).toContain("--quantize q4_0");
  });
});
