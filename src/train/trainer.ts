// The LoRA training loop: micro-batches → loss → backward (accumulated), clip, AdamW with a warmup
// schedule, eval loss every N steps with early stop, checkpoints every N steps and on abort, metrics.
// Only the adapters train: the base model's tensors never require grad.
import { cancelledError } from "../core/errors.js";
import type { TaskOptions } from "../core/progress.js";
import type { LlamaModel } from "../models/llama/model.js";
import type { LoraSet } from "../models/lora/attach.js";
import {
  AdamW,
  clipGradNorm,
  cosineSchedule,
  linearSchedule,
  noGrad,
  type Rng,
  type Schedule,
} from "../tensor/index.js";
import { lossAndBackward } from "./checkpointing.js";
import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type LoopState } from "./checkpoint.js";
import { collate, epochBatches, type BatchLimits } from "./data/batches.js";
import type { Example } from "./data/encode.js";
import type { MetricsLog } from "./metrics.js";
import { type MetricLine } from "./metrics.js";

export interface TrainSettings extends BatchLimits {
  lr: number;
  schedule: "cosine" | "linear" | "constant";
  warmupSteps: number;
  weightDecay: number;
  gradAccum: number;
  /** Max global gradient norm (0 = no clipping). */
  clip: number;
  epochs: number;
  /** Stop after this many optimizer steps (default: epochs decide). */
  maxSteps?: number;
  seed: number;
  /** Eval loss every N steps (0 = only at the end). */
  evalEvery: number;
  /** Stop after this many evaluations without a better eval loss (0 = never). */
  patience: number;
  /** Checkpoint every N steps (0 = only on abort and at the end). */
  saveEvery: number;
  logEvery: number;
  padId: number;
  /** Recompute each block in backward instead of keeping its activations. */
  gradientCheckpointing?: boolean;
}

/**
 * Computes gradients of one optimizer step's micro-batches into the adapters' .grad; returns mean loss.
 * `step` is the optimizer step being computed (0-based, counted from the run's start, not the resume),
 * so a gradient step that seeds randomness by step (workers' dropout) repeats it after --resume.
 */
export type GradStep = (batches: number[][], step: number) => Promise<number>;

export interface TrainResult {
  steps: number;
  finalLoss: number | null;
  firstEvalLoss: number | null;
  bestEvalLoss: number | null;
  lastEvalLoss: number | null;
  stoppedEarly: boolean;
  tokens: number;
  seconds: number;
  resumedFrom: string | null;
}

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

/** The default gradient step: every micro-batch in this thread, losses scaled by 1/micro-batches. */
/** `checkpoint`: the adapters' RNG, to recompute blocks in backward (gradient checkpointing). */
export function localGradStep(model: LlamaModel, examples: Example[], padId: number, checkpoint?: Rng): GradStep {
  return (batches) => {
    let total = 0;
    for (const idx of batches) {
      total += lossAndBackward(model, collate(examples, idx, padId), 1 / batches.length, checkpoint);
    }
    return Promise.resolve(total / batches.length);
  };
}

function scheduleOf(s: TrainSettings, totalSteps: number): Schedule {
  const o = { peakLr: s.lr, warmupSteps: Math.min(s.warmupSteps, totalSteps), totalSteps };
  if (s.schedule === "constant") return (step) => (step < o.warmupSteps ? (s.lr * (step + 1)) / o.warmupSteps : s.lr);
  return s.schedule === "linear" ? linearSchedule(o) : cosineSchedule(o);
}

export interface TrainInput extends TaskOptions {
  model: LlamaModel;
  lora: LoraSet;
  train: Example[];
  val: Example[];
  settings: TrainSettings;
  out: string;
  /** Settings a checkpoint must share to be resumed. */
  fingerprint: string;
  resume: boolean;
  metrics: MetricsLog;
  gradStep?: GradStep;
  /** Called after each logged step (the CLI prints it). */
  onMetric?: (line: MetricLine) => void;
}

export async function train(input: TrainInput): Promise<TrainResult> {
  const { model, lora, settings: s, signal } = input;
  const params = lora.params();
  const optimizer = new AdamW(params, { lr: s.lr, weightDecay: s.weightDecay });
  const perEpoch = Math.ceil(epochBatches(input.train, s, s.seed, 0).length / s.gradAccum);
  const totalSteps = Math.max(1, s.maxSteps ?? perEpoch * s.epochs);
  const lrAt = scheduleOf(s, totalSteps);
  const gradStep =
    input.gradStep ?? localGradStep(model, input.train, s.padId, s.gradientCheckpointing ? lora.rng : undefined);
  let loop: LoopState = {
    step: 0,
    epoch: 0,
    batch: 0,
    rng: lora.rng.state(),
    bestEval: null,
    badEvals: 0,
    tokensSeen: 0,
  };
  let resumedFrom: string | null = null;
  if (input.resume) {
    const dir = await latestCheckpoint(input.out);
    if (dir) {
      loop = await loadCheckpoint(dir, lora, optimizer, input.fingerprint);
      resumedFrom = dir;
    }
  }
  await input.metrics.open(resumedFrom ? loop.step : null);
  const result: TrainResult = {
    steps: 0,
    finalLoss: null,
    firstEvalLoss: null,
    bestEvalLoss: loop.bestEval,
    lastEvalLoss: null,
    stoppedEarly: false,
    tokens: 0,
    seconds: 0,
    resumedFrom,
  };
  const firstEval = input.metrics.lines.find((l) => l.eval_loss !== undefined)?.eval_loss;
  if (firstEval !== undefined) result.firstEvalLoss = firstEval;
  const save = async (): Promise<void> => {
    loop.rng = lora.rng.state();
    await saveCheckpoint(input.out, lora, optimizer, loop, input.fingerprint);
  };
  const evaluate = (): number | null => {
    if (input.val.length === 0) return null;
    lora.setTraining(false);
    const v = evalLoss(model, input.val, s, s.padId);
    lora.setTraining(true);
    result.firstEvalLoss ??= v;
    result.lastEvalLoss = v;
    if (loop.bestEval === null || v < loop.bestEval) {
      loop.bestEval = v;
      loop.badEvals = 0;
    } else loop.badEvals++;
    result.bestEvalLoss = loop.bestEval;
    return v;
  };
  if (!resumedFrom && input.val.length > 0) {
    const v = evaluate()!;
    await input.metrics.add({ step: 0, epoch: 0, eval_loss: v });
  }
  lora.setTraining(true);
  const t0 = performance.now();
  let batches = epochBatches(input.train, s, s.seed, loop.epoch);
  while (loop.step < totalSteps && loop.epoch < Math.max(s.epochs, s.maxSteps ? Infinity : 0)) {
    if (signal?.aborted) {
      await save();
      throw Object.assign(cancelledError(`training at step ${loop.step}`, signal.reason), {
        hint: "a checkpoint was saved; run again with --resume",
      });
    }
    if (loop.batch >= batches.length) {
      loop.epoch++;
      loop.batch = 0;
      batches = epochBatches(input.train, s, s.seed, loop.epoch);
      continue;
    }
    const group = batches.slice(loop.batch, loop.batch + s.gradAccum);
    const tStep = performance.now();
    optimizer.zeroGrad();
    const loss = await gradStep(group, loop.step);
    // always measured: it is also the step's NaN/Inf check (backward skips its per-op scan)
    const norm = clipGradNorm(params, s.clip > 0 ? s.clip : Infinity);
    optimizer.lr = lrAt(loop.step);
    optimizer.step();
    const tokens = group.reduce((n, idx) => n + idx.reduce((m, i) => m + input.train[i]!.ids.length, 0), 0);
    loop.tokensSeen += tokens;
    loop.batch += group.length;
    loop.step++;
    result.steps++;
    result.tokens += tokens;
    result.finalLoss = loss;
    const line: MetricLine = {
      step: loop.step,
      epoch: loop.epoch,
      loss,
      lr: optimizer.lr,
      tokens: loop.tokensSeen,
      tokens_per_s: tokens / Math.max(1e-9, (performance.now() - tStep) / 1000),
    };
    line.grad_norm = norm;
    const evalNow = s.evalEvery > 0 && loop.step % s.evalEvery === 0;
    if (evalNow || loop.step === totalSteps) {
      const v = evaluate();
      if (v !== null) line.eval_loss = v;
    }
    line.elapsed_s = (performance.now() - t0) / 1000;
    if (loop.step % s.logEvery === 0 || line.eval_loss !== undefined || loop.step === totalSteps) {
      await input.metrics.add(line);
      input.onMetric?.(line);
    }
    input.onProgress?.({
      task: "train",
      done: loop.step,
      total: totalSteps,
      unit: "steps",
      note: `loss ${loss.toFixed(3)}`,
    });
    if (s.saveEvery > 0 && loop.step % s.saveEvery === 0) await save();
    if (s.patience > 0 && loop.badEvals >= s.patience) {
      result.stoppedEarly = true;
      break;
    }
  }
  lora.setTraining(false);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
