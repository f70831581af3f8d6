// The trainer seam: what the shared loop (`runTraining` in trainer.ts) needs from a training task.
// The loop owns accumulation, clipping, AdamW and its schedule, eval cadence and early stop,
// checkpoints and resume, metrics and the loss plot, abort and progress; a task owns its parameters,
// its batches, its micro-step, its evaluation and the state it adds to a checkpoint. The LoRA task
// (lora-task.ts) is one; a contrastive encoder task fits the same shape. Leaves out multi-machine runs.
import type { Tensor } from "../tensor/index.js";

/** Named evaluation results: `eval_loss` at least, more as `eval_<name>` (e.g. `eval_ndcg@10`). */
export type EvalMetrics = { eval_loss: number } & { [name: `eval_${string}`]: number };

/** One replica's rows of one micro-batch and the weight of their loss in the step's mean loss. */
export interface Share {
  rows: number[];
  weight: number;
}

/**
 * The part of a task a worker thread holds (the main task is one too, replica 0): its trainable
 * tensors and the work of its share of an optimizer step.
 */
export interface TaskReplica<W = Share[]> {
  /** Trainable tensors in a fixed order: checkpoints and worker payloads address them by index. */
  readonly params: Tensor[];
  /**
   * Loss and backward of this replica's share `work` of optimizer step `step` (counted from the run's
   * start, so randomness seeded by it repeats after a resume); gradients accumulate into each param's
   * `.grad`. Returns the share's loss, weighted as its part of the step's mean. `replica`: 0 = the main
   * thread, 1… = workers.
   */
  runShare(work: W, step: number, replica: number): number;
}

/** How a task is rebuilt in a worker thread: a registered kind (task-kinds.ts) and its init value. */
export interface TaskDescription {
  kind: string;
  /** A module to import first that registers `kind` (a task defined outside infuse); a file: URL. */
  module?: string;
  /** Structured-cloneable; everything the kind's factory needs (model path, examples, settings). */
  init: unknown;
}

/** A task that can be spread over worker threads. */
export interface ParallelTask<W = Share[]> {
  /** Sent once to every worker: what rebuilds the task there. */
  describe(): TaskDescription;
  /** One optimizer step's micro-batches dealt to `n` replicas (index 0 = this thread): each one's work. */
  split(batches: number[][], n: number): W[];
}

export interface TrainingTask<W = Share[]> extends TaskReplica<W> {
  /** The task's settings (model, data, hyper-parameters) a checkpoint must share to be resumed. */
  readonly fingerprint: string;
  /**
   * The same settings by name (flat): a resume compares them one by one and names each that differs
   * (`rank: checkpoint 8, now 16`). Leave out settings a resume may change (how long to train).
   */
  readonly settings?: Record<string, unknown>;
  /** A setting's name as the user writes it (`rank` → `rank (--rank)`). */
  settingLabel?(key: string): string;
  /** Micro-batches (example indices) of `epoch`: a pure function of (seed, epoch), so a resume rebuilds them. */
  epochBatches(epoch: number): number[][];
  /** What a micro-batch counts for in `tokens` and `tokens_per_s`. */
  tokens(batch: number[]): number;
  /** Loss and backward of one micro-batch with the loss scaled by `weight`; returns the unscaled loss. */
  microStep(batch: number[], weight: number, step: number): number;
  /** Evaluation, no graph, training mode off; null when there is nothing to evaluate on. */
  evaluate(): EvalMetrics | null;
  /** Training mode (dropout) on or off. */
  setTraining(on: boolean): void;
  /** Extra JSON state a checkpoint keeps (e.g. the dropout RNG's), restored by `loadState` on resume. */
  saveState(): unknown;
  loadState(state: unknown): void;
  /** The metric early stop watches (default: eval_loss, lower is better). */
  readonly monitor?: { metric: keyof EvalMetrics; higherIsBetter: boolean };
  /** Present when worker threads can share the steps (`workers` > 1). */
  readonly parallel?: ParallelTask<W>;
}

/** Rebuilds a task's replica in a worker thread from its description's `init`. */
export type ReplicaFactory = (init: unknown, replica: number) => Promise<TaskReplica<unknown>>;
