// The LoRA task of the shared training loop: a decoder with adapters attached, examples batched by
// sequences and padded tokens, next-token loss (checkpointed per block when asked), eval loss, the
// adapters' RNG as checkpoint state, and workers that load the same base and adapters.
import { InfuseError } from "../core/errors.js";
import { loadLlama } from "../models/llama/load.js";
import type { LlamaModel } from "../models/llama/model.js";
import { attachLora, type LoraSet } from "../models/lora/attach.js";
import { noGrad, Rng, type Tensor } from "../tensor/index.js";
import { lossAndBackward } from "./checkpointing.js";
import { collate, epochBatches, type BatchLimits } from "./data/batches.js";
import { IGNORE, type Example } from "./data/encode.js";
import { quantizeFrozenTables } from "./frozen.js";
import { baseStorage, type BaseQuant, type TrainPrecision } from "./options.js";
import type { EvalMetrics, ParallelTask, Share, TaskDescription, TaskReplica, TrainingTask } from "./task.js";

/** Mean next-token loss over `examples` (token-weighted), no graph, no dropout. */
export function evalLoss(model: LlamaModel, examples: Example[], limits: BatchLimits, padId: number): number {
  let sum = 0;
  let count = 0;
  noGrad(() => {
    for (const idx of epochBatches(examples, limits, 0, 0, false)) {
      const batch = collate(examples, idx, padId);
      const n = batch.labels.reduce((c, l) => c + (l !== -100 ? 1 : 0), 0);
      if (n === 0) continue;
      sum += model.loss(batch).item() * n;
      count += n;
    }
  });
  return count ? sum / count : NaN;
}

const labelled = (examples: Example[], rows: number[]): number =>
  rows.reduce((n, i) => n + examples[i]!.labels.reduce((c, l) => c + (l !== IGNORE ? 1 : 0), 0), 0);

/** What a worker needs to rebuild the base and adapters (the `init` of a `lora` TaskDescription). */
export interface LoraTaskInit {
  /** The resolved local file or folder (workers do not resolve hub references again). */
  model: string;
  quantize?: BaseQuant;
  precision?: TrainPrecision;
  lora: { r: number; alpha: number; dropout: number; rslora: boolean; targets: string[] };
  examples: Example[];
  padId: number;
  seed: number;
  checkpointing: boolean;
}

/** The adapters and the training examples: what every replica (main thread or worker) computes with. */
export class LoraReplica implements TaskReplica {
  readonly params: Tensor[];
  constructor(
    readonly model: LlamaModel,
    readonly lora: LoraSet,
    readonly examples: Example[],
    readonly padId: number,
    readonly seed: number,
    readonly checkpointing: boolean,
  ) {
    this.params = lora.params();
  }

  /** One micro-batch (or a replica's rows of it): loss and backward scaled by `weight`; the unscaled loss. */
  protected lossAndBackward(rows: number[], weight: number): number {
    const batch = collate(this.examples, rows, this.padId);
    return lossAndBackward(this.model, batch, weight, this.checkpointing ? this.lora.rng : undefined);
  }

  runShare(work: Share[], step: number, replica: number): number {
    // A worker's dropout draws from a stream fixed by (seed, step, worker), so a resumed run repeats it;
    // the main thread keeps the adapters' own stream (saved in checkpoints).
    if (replica > 0) this.lora.rng.setState(new Rng((this.seed * 1_000_003 + step * 7919 + replica) >>> 0).state());
    let loss = 0;
    for (const part of work) {
      if (part.weight === 0) continue;
      loss += this.lossAndBackward(part.rows, part.weight) * part.weight;
    }
    return loss;
  }
}

export interface LoraTaskInput {
  model: LlamaModel;
  lora: LoraSet;
  train: Example[];
  val: Example[];
  limits: BatchLimits;
  padId: number;
  seed: number;
  gradientCheckpointing: boolean;
  fingerprint: string;
  /** The settings by name a resume compares (TrainingTask.settings), and how to name one. */
  settings?: Record<string, unknown>;
  settingLabel?: (key: string) => string;
  /** Where workers load the same base from (the resolved local path) and its quantization. */
  source: { model: string; quantize?: BaseQuant | undefined; precision?: TrainPrecision | undefined };
}

/** LoRA fine-tuning of a decoder as a task of the shared loop. */
export class LoraTask extends LoraReplica implements TrainingTask {
  readonly fingerprint: string;
  readonly settings?: Record<string, unknown>;
  readonly parallel: ParallelTask;
  private readonly label: ((key: string) => string) | undefined;
  private readonly val: Example[];
  private readonly limits: BatchLimits;

  constructor(input: LoraTaskInput) {
    const { model, lora, train, padId, seed } = input;
    super(model, lora, train, padId, seed, input.gradientCheckpointing);
    this.val = input.val;
    this.limits = input.limits;
    this.fingerprint = input.fingerprint;
    if (input.settings) this.settings = input.settings;
    this.label = input.settingLabel;
    const init: LoraTaskInit = {
      model: input.source.model,
      ...(input.source.quantize ? { quantize: input.source.quantize } : {}),
      ...(input.source.precision === "bf16" ? { precision: input.source.precision } : {}),
      lora: { ...lora.options },
      examples: train,
      padId,
      seed,
      checkpointing: input.gradientCheckpointing,
    };
    this.parallel = {
      describe: (): TaskDescription => ({ kind: "lora", init }),
      // Rows dealt round-robin; each part weighted by its share of the micro-batch's labelled tokens,
      // so the summed gradient is the whole micro-batch's mean-loss gradient.
      split: (batches, n) => {
        const parts: Share[][] = Array.from({ length: n }, () => []);
        for (const idx of batches) {
          const total = Math.max(1, labelled(train, idx));
          for (let k = 0; k < n; k++) {
            const rows = idx.filter((_, j) => j % n === k);
            if (rows.length > 0) parts[k]!.push({ rows, weight: labelled(train, rows) / total / batches.length });
          }
        }
        return parts;
      },
    };
  }

  settingLabel(key: string): string {
    return this.label?.(key) ?? key;
  }

  epochBatches(epoch: number): number[][] {
    return epochBatches(this.examples, this.limits, this.seed, epoch);
  }

  tokens(batch: number[]): number {
    return batch.reduce((m, i) => m + this.examples[i]!.ids.length, 0);
  }

  microStep(batch: number[], weight: number): number {
    return this.lossAndBackward(batch, weight);
  }

  evaluate(): EvalMetrics | null {
    if (this.val.length === 0) return null;
    return { eval_loss: evalLoss(this.model, this.val, this.limits, this.padId) };
  }

  setTraining(on: boolean): void {
    this.lora.setTraining(on);
  }

  saveState(): { rng: number[] } {
    return { rng: this.lora.rng.state() };
  }

  loadState(state: unknown): void {
    const rng = (state as { rng?: unknown } | null)?.rng;
    if (!Array.isArray(rng) || rng.length !== 4) {
      throw new InfuseError("train.bad_checkpoint", "checkpoint state has no adapter RNG state (rng: 4 numbers)", {
        kind: "input",
        hint: "start a new output folder, or resume from a checkpoint this version wrote",
      });
    }
    this.lora.rng.setState(rng as number[]);
  }
}

/** The `lora` kind's worker-side factory: loads the base as the main thread holds it, attaches the adapters. */
export async function createLoraReplica(init: unknown): Promise<LoraReplica> {
  const o = init as LoraTaskInit;
  const storage = baseStorage(o);
  const { model } = await loadLlama(o.model, storage ? { quantize: storage } : {});
  if (o.quantize) quantizeFrozenTables(model); // as the main thread holds the base
  const lora = attachLora(model, { ...o.lora, seed: o.seed });
  return new LoraReplica(model, lora, o.examples, o.padId, o.seed, o.checkpointing);
}
