// The TrainingTask conformance suite (task-conformance.ts) on every task: LoRA on stories260K, and
// the tiny softmax-regression task of the seam tests.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe } from "vitest";
import { loadLlama } from "../../src/models/llama/load.js";
import { attachLora } from "../../src/models/lora/attach.js";
import { LoraTask } from "../../src/train/lora-task.js";
import { resolveTuneOptions } from "../../src/train/options.js";
import type { LoopOptions } from "../../src/train/trainer.js";
import { prepareTuneData } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";
import { trainingTaskConformance } from "./task-conformance.js";
import { TinyClassifierTask } from "./tiny-task.js";

const dir = tempDir("infuse-conformance-");
const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(16));
writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);

const loop = (root: string, extra: Partial<LoopOptions>) => (name: string) => ({
  out: path.join(dir, root, name),
  resume: false,
  lr: 5e-3,
  schedule: "cosine" as const,
  warmupSteps: 1,
  weightDecay: 0,
  gradAccum: 2,
  clip: 1,
  epochs: 2,
  evalEvery: 2,
  patience: 0,
  saveEvery: 0,
  logEvery: 1,
  ...extra,
});

describe("TrainingTask conformance: LoRA", () => {
  const options = resolveTuneOptions({
    model: MODEL,
    data: [{ path: data }],
    out: "",
    template: path.join(dir, "qa.txt"),
    valFraction: 0.25,
    batchSize: 2,
    seed: 9,
  });
  trainingTaskConformance(
    async ({ dropout }) => {
      const { model, tokenizer, path: source } = await loadLlama(MODEL);
      const prepared = await prepareTuneData(tokenizer, options);
      const lora = attachLora(model, {
        r: 4,
        alpha: 8,
        dropout: dropout ? 0.2 : 0,
        rslora: false,
        targets: ["q_proj", "v_proj"],
        seed: 9,
      });
      return new LoraTask({
        model,
        lora,
        train: prepared.train,
        val: prepared.val,
        limits: { batchSize: 2 },
        padId: tokenizer.eosId ?? 0,
        seed: 9,
        gradientCheckpointing: false,
        fingerprint: `lora dropout=${dropout}`,
        source: { model: source },
      });
    },
    loop("lora", { maxSteps: 5 }),
    3,
  );
});

describe("TrainingTask conformance: tiny classifier", () => {
  trainingTaskConformance(
    ({ dropout }) =>
      Promise.resolve(
        new TinyClassifierTask({ seed: 2, examples: 64, dim: 4, classes: 3, batchSize: 6, dropout: dropout ? 0.3 : 0 }),
      ),
    loop("tiny", {}),
    5,
  );
});
