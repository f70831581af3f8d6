// The shared training loop: a task's micro-batches → loss → backward (accumulated, or spread over
// worker threads), the gradient norm's finiteness check and clipping, AdamW with a warmup schedule,
// evaluation every N steps with early stop, checkpoints every N steps and on abort (resume is exact),
// metrics.jsonl and loss.svg. What is trained, and how, is the task's (task.ts).
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { cancelledError, InfuseError } from "../core/errors.js";
import type { TaskOptions } from "../core/progress.js";
import { AdamW, clipGradNorm, cosineSchedule, linearSchedule, type Schedule } from "../tensor/index.js";
import {
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
  type Checkpoint,
  type LoopState,
  type Want,
} from "./checkpoint.js";
import { lossSvg, MetricsLog, type MetricLine } from "./metrics.js";
import { etaSeconds, evalsLeft, formatDuration } from "./progress.js";
import { claimRunFolder, type RunFolder } from "./run-folder.js";
import type { TrainingTask } from "./task.js";
import { checkWorkers, startWorkers } from "./workers.js";

export interface LoopSettings {
  lr: number;
  schedule: "cosine" | "linear" | "constant";
  warmupSteps: number;
  weightDecay: number;
  gradAccum: number;
  /** Max global gradient norm (0 = no clipping). */
  clip: number;
  epochs: number;
  /** Stop after this many optimizer steps (default: epochs decide). */
  maxSteps?: number | undefined;
  /** Evaluate every N steps (0 = only at the end). */
  evalEvery: number;
  /** Stop after this many evaluations without a better monitored metric (0 = never). */
  patience: number;
  /** Checkpoint every N steps (0 = only on abort). */
  saveEvery: number;
  logEvery: number;
}

export interface LoopOptions extends LoopSettings, TaskOptions {
  /** Output folder: checkpoints/, metrics.jsonl, loss.svg. */
  out: string;
  /** Continue from the newest readable checkpoint in `out` (none: `train.no_checkpoint`). */
  resume: boolean;
  /** Clear the previous run's files in `out` and start afresh (without it, a used `out` is refused). */
  overwrite?: boolean;
  /** `out` already claimed by the caller (claimRunFolder); the caller releases it. */
  runFolder?: RunFolder;
  /** Called with a line the user should read (a damaged checkpoint passed over on resume). */
  onWarning?: (message: string) => void;
  /** Threads sharing every step (the task must be `parallel` when > 1). */
  workers?: number;
  /** loss.svg's title. */
  title?: string;
  /** Called after each logged step (the CLI prints it). */
  onMetric?: (line: MetricLine) => void;
}

export interface TrainResult {
  /** Steps taken by this call (a resumed run counts from its checkpoint). */
  steps: number;
  finalLoss: number | null;
  firstEvalLoss: number | null;
  bestEvalLoss: number | null;
  lastEvalLoss: number | null;
  stoppedEarly: boolean;
  tokens: number;
  /** Wall time of the loop, evaluations included. */
  seconds: number;
  /** Of `seconds`, the time spent evaluating. */
  evalSeconds: number;
  /** Training tokens per second of training time (evaluation left out). */
  tokensPerSecond: number;
  resumedFrom: string | null;
}

/**
 * Computes the gradients of one optimizer step's micro-batches into the params' .grad; returns the mean
 * loss. `step` counts from the run's start (not the resume), so randomness seeded by it repeats.
 */
export type GradStep = (batches: number[][], step: number) => Promise<number>;

function scheduleOf(s: LoopSettings, totalSteps: number): Schedule {
  const o = { peakLr: s.lr, warmupSteps: Math.min(s.warmupSteps, totalSteps), totalSteps };
  if (s.schedule === "constant") return (step) => (step < o.warmupSteps ? (s.lr * (step + 1)) / o.warmupSteps : s.lr);
  return s.schedule === "linear" ? linearSchedule(o) : cosineSchedule(o);
}

/**
 * The loop settings a resumed run must share (they shape the optimizer's trajectory). Epochs and max
 * steps may grow: a finished run continues to the new end, its schedule laid over the new total.
 */
function loopSettings(s: LoopSettings): Record<string, unknown> {
  const { lr, schedule, warmupSteps, weightDecay, gradAccum, clip } = s;
  return { lr, schedule, warmupSteps, weightDecay, gradAccum, clip };
}

/** Before settings were compared by name: the hash older checkpoints hold (epochs and max steps included). */
function loopFingerprint(s: LoopSettings): string {
  const { lr, schedule, warmupSteps, weightDecay, gradAccum, clip, epochs } = s;
  const keep = { lr, schedule, warmupSteps, weightDecay, gradAccum, clip, epochs, maxSteps: s.maxSteps ?? null };
  return createHash("sha256").update(JSON.stringify(keep)).digest("hex").slice(0, 16);
}

/** Every micro-batch in this thread, each loss scaled by 1/micro-batches. */
function localGradStep<W>(task: TrainingTask<W>): GradStep {
  return (batches, step) => {
    let total = 0;
    for (const idx of batches) total += task.microStep(idx, 1 / batches.length, step);
    return Promise.resolve(total / batches.length);
  };
}

/** The error for a task with nothing to train on (the loop would otherwise never take a step). */
export function noExamplesError(why: string, hint: string, details: Record<string, unknown> = {}): InfuseError {
  return new InfuseError("train.no_examples", `no training example: ${why}`, { kind: "input", hint, details });
}

/**
 * Trains `task` to the end (or early stop); throws `cancelled` (after saving a checkpoint) on abort.
 * `out` is locked for the run, and a folder holding a previous run is refused unless `resume` or
 * `overwrite` says what to do with it.
 */
export async function runTraining<W>(task: TrainingTask<W>, options: LoopOptions): Promise<TrainResult> {
  const workers = options.workers ?? 1;
  checkWorkers(workers);
  if (workers > 1 && !task.parallel) {
    throw new InfuseError("train.no_workers", "this training task runs in one thread only", {
      kind: "usage",
      hint: "run with workers = 1",
    });
  }
  if (task.epochBatches(0).length === 0)
    throw noExamplesError("the task has no training batch", "give the task training data");
  const folder =
    options.runFolder ?? (await claimRunFolder(options.out, { resume: options.resume, overwrite: options.overwrite }));
  try {
    await mkdir(options.out, { recursive: true });
    const metrics = new MetricsLog(path.join(options.out, "metrics.jsonl"));
    const pool = workers > 1 ? await startWorkers(task, workers) : undefined;
    try {
      return await trainLoop(task, options, metrics, pool?.step ?? localGradStep(task));
    } finally {
      await pool?.close();
      // not after a refused resume, whose folder keeps the plot of the run it holds
      if (metrics.opened) await writeFile(path.join(options.out, "loss.svg"), lossSvg(metrics.lines, options.title));
    }
  } finally {
    if (!options.runFolder) await folder.release();
  }
}

/** A checkpoint that cannot be read (torn by a kill or a full disk), as opposed to one of another run. */
const unreadable = (e: unknown): boolean =>
  e instanceof InfuseError && (e.code === "train.bad_checkpoint" || e.code.startsWith("safetensors."));

/** The newest checkpoint in `out` that reads; a damaged newer one is passed over with a warning. */
async function resumeFrom<W>(
  task: TrainingTask<W>,
  s: LoopOptions,
  optimizer: AdamW,
  want: Want,
): Promise<{ dir: string; checkpoint: Checkpoint }> {
  const dirs = await listCheckpoints(s.out);
  if (dirs.length === 0) {
    throw new InfuseError("train.no_checkpoint", `${s.out}: no checkpoint to resume`, {
      kind: "not_found",
      hint: "drop --resume to start a new run, or give the folder of the run to continue",
      details: { out: s.out },
    });
  }
  for (let i = 0; ; i++) {
    const dir = dirs[i]!;
    try {
      return { dir, checkpoint: await loadCheckpoint(dir, task.params, optimizer, want) };
    } catch (e) {
      if (!unreadable(e) || i + 1 === dirs.length) throw e;
      const line = `${dir} cannot be read (${(e as Error).message}); resuming from ${path.basename(dirs[i + 1]!)}`;
      s.onWarning?.(line);
      s.onProgress?.({ task: "resume", done: 0, note: line });
    }
  }
}

async function trainLoop<W>(
  task: TrainingTask<W>,
  s: LoopOptions,
  metrics: MetricsLog,
  gradStep: GradStep,
): Promise<TrainResult> {
  const { params, monitor = { metric: "eval_loss", higherIsBetter: false } } = task;
  const signal = s.signal;
  const optimizer = new AdamW(params, { lr: s.lr, weightDecay: s.weightDecay });
  const perEpoch = Math.ceil(task.epochBatches(0).length / s.gradAccum);
  const totalSteps = Math.max(1, s.maxSteps ?? perEpoch * s.epochs);
  const lrAt = scheduleOf(s, totalSteps);
  const fingerprints = {
    fingerprint: task.fingerprint,
    loopFingerprint: loopFingerprint(s),
    ...(task.settings ? { settings: task.settings } : {}),
    loopSettings: loopSettings(s),
  };
  const want = { ...fingerprints, ...(task.settingLabel ? { label: (k: string) => task.settingLabel!(k) } : {}) };
  let loop: LoopState = { step: 0, epoch: 0, batch: 0, bestEval: null, badEvals: 0, tokensSeen: 0 };
  let resumedFrom: string | null = null;
  if (s.resume) {
    const { dir, checkpoint: c } = await resumeFrom(task, s, optimizer, want);
    task.loadState(c.task);
    loop = c.loop;
    resumedFrom = dir;
    if (finished(loop, totalSteps, s, task.epochBatches(loop.epoch).length)) {
      throw new InfuseError(
        "train.run_finished",
        `${s.out}: the run there is finished (step ${loop.step} of ${totalSteps})`,
        {
          kind: "usage",
          hint: "to train on, resume with more --epochs or a larger --max-steps (the schedule then spans the new total)",
          details: { out: s.out, step: loop.step, totalSteps },
        },
      );
    }
  }
  await metrics.open(resumedFrom ? loop.step : null);
  const result: TrainResult = {
    steps: 0,
    finalLoss: null,
    firstEvalLoss: null,
    bestEvalLoss: loop.bestEval,
    lastEvalLoss: null,
    stoppedEarly: false,
    tokens: 0,
    seconds: 0,
    evalSeconds: 0,
    tokensPerSecond: 0,
    resumedFrom,
  };
  const firstEval = metrics.lines.find((l) => l.eval_loss !== undefined)?.eval_loss;
  if (firstEval !== undefined) result.firstEvalLoss = firstEval;
  const save = async (): Promise<void> => {
    await saveCheckpoint(s.out, params, optimizer, { loop, task: task.saveState(), ...fingerprints });
  };
  const timing = { trainMs: 0, evalMs: 0, evals: 0, stepsTimed: 0 };
  const evaluate = () => {
    task.setTraining(false);
    const te = performance.now();
    const m = task.evaluate();
    if (m !== null) {
      timing.evalMs += performance.now() - te;
      timing.evals++;
    }
    task.setTraining(true);
    if (m === null) return null;
    result.firstEvalLoss ??= m.eval_loss;
    result.lastEvalLoss = m.eval_loss;
    const v = m[monitor.metric];
    if (v === undefined) {
      throw new InfuseError("train.no_metric", `the task's evaluation gave no ${monitor.metric}`, {
        hint: `return ${monitor.metric} from evaluate(), or monitor a metric it returns`,
        details: { metrics: Object.keys(m) },
      });
    }
    if (loop.bestEval === null || (monitor.higherIsBetter ? v > loop.bestEval : v < loop.bestEval)) {
      loop.bestEval = v;
      loop.badEvals = 0;
    } else loop.badEvals++;
    result.bestEvalLoss = loop.bestEval;
    return m;
  };
  if (!resumedFrom) {
    const m = evaluate();
    if (m) await metrics.add({ step: 0, epoch: 0, ...m });
  }
  task.setTraining(true);
  const t0 = performance.now();
  let batches = task.epochBatches(loop.epoch);
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
      batches = task.epochBatches(loop.epoch);
      // an empty epoch would repeat forever under maxSteps (the epoch limit is then Infinity)
      if (batches.length === 0)
        throw noExamplesError(`epoch ${loop.epoch} has no batch`, "give the task training data");
      continue;
    }
    // one macrotask turn per step: Ctrl-C (the signal's abort) is seen even when a step never awaits I/O
    await new Promise<void>((resolve) => setImmediate(resolve));
    const group = batches.slice(loop.batch, loop.batch + s.gradAccum);
    const tStep = performance.now();
    optimizer.zeroGrad();
    const loss = await gradStep(group, loop.step);
    // always measured: it is also the step's NaN/Inf check (backward skips its per-op scan)
    const norm = clipGradNorm(params, s.clip > 0 ? s.clip : Infinity);
    optimizer.lr = lrAt(loop.step);
    optimizer.step();
    timing.trainMs += performance.now() - tStep;
    timing.stepsTimed++;
    const tokens = group.reduce((n, idx) => n + task.tokens(idx), 0);
    loop.tokensSeen += tokens;
    loop.batch += group.length;
    loop.step++;
    result.steps++;
    result.tokens += tokens;
    result.finalLoss = loss;
    let line: MetricLine = {
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
      const m = evaluate();
      if (m) line = { ...line, ...m };
    }
    line.elapsed_s = (performance.now() - t0) / 1000;
    if (loop.step % s.logEvery === 0 || line.eval_loss !== undefined || loop.step === totalSteps) {
      await metrics.add(line);
      s.onMetric?.(line);
    }
    const eta = etaSeconds(timing, totalSteps - loop.step, evalsLeft(loop.step, totalSteps, s.evalEvery));
    s.onProgress?.({
      task: "train",
      done: loop.step,
      total: totalSteps,
      unit: "steps",
      note: `loss ${loss.toFixed(3)} · eta ${formatDuration(eta)}`,
    });
    if (s.saveEvery > 0 && loop.step % s.saveEvery === 0) await save();
    if (s.patience > 0 && loop.badEvals >= s.patience) {
      result.stoppedEarly = true;
      break;
    }
  }
  task.setTraining(false);
  // the end state, so a finished run can be extended (--resume with more epochs or steps)
  if (result.steps > 0 && (s.saveEvery === 0 || loop.step % s.saveEvery !== 0)) await save();
  result.seconds = (performance.now() - t0) / 1000;
  result.evalSeconds = timing.evalMs / 1000;
  result.tokensPerSecond = result.tokens / Math.max(1e-9, result.seconds - result.evalSeconds);
  return result;
}

/** Whether a resumed loop has no step left (the run it continues reached its end). */
function finished(loop: LoopState, totalSteps: number, s: LoopSettings, batchesNow: number): boolean {
  if (loop.step >= totalSteps) return true;
  if (s.maxSteps !== undefined) return false;
  return loop.epoch + (loop.batch >= batchesNow ? 1 : 0) >= s.epochs;
}
