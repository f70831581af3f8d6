// The embedding trainer's test kit: the tiny encoder, a contrastive task on synthetic pairs
// (embed-pairs.ts), gradient comparison and short-run loop settings.
import path from "node:path";
import { expect } from "vitest";
import { loadBert } from "../../src/models/bert/index.js";
import type { EmbedPair } from "../../src/train/embed/pairs.js";
import { attachEncoderLora, ContrastiveTask, type ContrastiveSettings } from "../../src/train/embed/task.js";
import type { TrainingTask } from "../../src/train/task.js";
import type { LoopOptions } from "../../src/train/trainer.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";
import { synthPairs } from "./embed-pairs.js";
import { tempDir } from "./helpers.js";

const tinyDir = tempDir("infuse-embed-tiny-");
let tinyGguf: Promise<string> | undefined;
/** The tests' encoder: a 1-block, 32-wide BERT GGUF with the real MiniLM vocabulary (written once per file). */
export const tinyBert = (): Promise<string> =>
  (tinyGguf ??= writeTinyBertGguf(path.join(tinyDir, "tiny-bert.gguf"), { hidden: 32, layers: 1, heads: 2, seed: 5 }));

export const SETTINGS: ContrastiveSettings = {
  temperature: 0.05,
  groupSize: 3,
  inBatchNegatives: true,
  queryMaxLength: 16,
  passageMaxLength: 16,
  queryInstruction: "query: ",
  passageInstruction: "",
  pooling: "mean",
  normalize: true,
  gradCacheChunk: 0,
  batchSize: 4,
  seed: 3,
};

export interface MakeTask {
  settings?: Partial<ContrastiveSettings>;
  lora?: boolean;
  train?: EmbedPair[];
  val?: EmbedPair[];
}

/** A contrastive task on the tiny encoder; 12 synthetic pairs with 5 negatives, evaluated on themselves. */
export async function makeTask(o: MakeTask = {}): Promise<ContrastiveTask> {
  const { model, tokenizer, path: modelPath } = await loadBert(await tinyBert());
  const settings = { ...SETTINGS, ...o.settings };
  const loraSettings = o.lora ? { r: 4, alpha: 8, dropout: 0.1, targets: ["attn_q", "attn_v"] } : null;
  const lora = loraSettings ? attachEncoderLora(model, loraSettings, settings.seed) : null;
  const train = o.train ?? synthPairs(12, 5);
  return new ContrastiveTask({ model, tokenizer, modelPath, lora, loraSettings, train, val: o.val ?? train, settings });
}

export const grads = (t: TrainingTask<unknown>): Float32Array[] =>
  t.params.map((p) => p.grad?.data.slice() ?? new Float32Array(p.size));

/** max |a − b| / max |a| over every array. */
export function relDiff(a: Float32Array[], b: Float32Array[]): number {
  let scale = 0;
  let diff = 0;
  a.forEach((g, i) =>
    g.forEach((v, j) => {
      scale = Math.max(scale, Math.abs(v));
      diff = Math.max(diff, Math.abs(v - b[i]![j]!));
    }),
  );
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}

/** Short-run loop settings in `root/name` under `dir`. */
export const loopIn =
  (dir: string, root: string, extra: Partial<LoopOptions> = {}) =>
  (name: string): LoopOptions => ({
    out: path.join(dir, root, name),
    resume: false,
    lr: 2e-3,
    schedule: "cosine",
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
