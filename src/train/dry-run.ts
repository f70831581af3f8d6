// `tune --dry-run`: what training would see and how long it would take, without training: record and
// example counts, token lengths, the warnings (records cut to --max-length, a length past the model's
// context), the columns recognised by name, rendered examples with the cut marked, the step count, and
// a time estimate from a few measured steps. Leaves out memory estimates.
import { performance } from "node:perf_hooks";
import { limitsOf } from "../core/limits.js";
import { loadLlama } from "../models/llama/load.js";
import type { Tokenizer } from "../tokenizers/types.js";
import { epochBatches } from "./data/batches.js";
import { IGNORE, type Example } from "./data/encode.js";
import type { SkipReport } from "./data/records.js";
import { evalLoss } from "./lora-task.js";
import { resolveTuneOptions, storageOption, type TuneOptions } from "./options.js";
import { createTuneTask, dataWarnings, prepareTuneData } from "./prepare.js";
import { evalsLeft } from "./progress.js";
import type { TuneRunOptions } from "./tune.js";

/** Token-length statistics of a dataset (before truncation). */
export function lengthStats(lengths: number[]): { min: number; mean: number; p50: number; p95: number; max: number } {
  const s = [...lengths].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return {
    min: s[0] ?? 0,
    mean: s.length ? Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10 : 0,
    p50: at(0.5),
    p95: at(0.95),
    max: s[s.length - 1] ?? 0,
  };
}

/** Where a record cut to --max-length lost tokens, as rendered text shows it. */
export const cutMarker = (dropped: number): string => `[… ${dropped} tokens cut …]`;

/** An example as text: the whole sequence (a cut marked), and the part the loss is taken on. */
export function renderExample(
  tokenizer: Tokenizer,
  e: Example,
): { text: string; learned: string; tokens: number; learnedTokens: number; cutTokens: number } {
  const learnedIds = [...e.labels].filter((l) => l !== IGNORE);
  const decode = (ids: Int32Array): string => tokenizer.decode([...ids], { skipSpecial: false });
  const text = e.cut
    ? decode(e.ids.subarray(0, e.cut.at)) + cutMarker(e.cut.dropped) + decode(e.ids.subarray(e.cut.at))
    : decode(e.ids);
  return {
    text,
    learned: tokenizer.decode(learnedIds, { skipSpecial: false }),
    tokens: e.ids.length,
    learnedTokens: learnedIds.length,
    cutTokens: e.cut?.dropped ?? 0,
  };
}

export interface DryRunEstimate {
  /** Steps timed (after one warm-up micro-batch). */
  measuredSteps: number;
  secondsPerStep: number;
  evaluations: number;
  secondsPerEvaluation: number;
  /** The whole run in this thread: steps × step time + evaluations × evaluation time. */
  totalSeconds: number;
}

export interface DryRunReport {
  model: string;
  template: string;
  records: { train: number; val: number | null };
  /** Malformed records left out (`skipBadRecords`); count 0 when none or strict. */
  skipped: SkipReport;
  /** Files whose columns were recognised by name, one line each. */
  columns: string[];
  examples: { train: number; val: number };
  truncated: number;
  dropped: number;
  maxLength: number;
  /** The model's context length (tokens). */
  contextLength: number;
  tokens: ReturnType<typeof lengthStats>;
  learnedTokens: number;
  /** Optimizer steps: per epoch and in all (--max-steps, else epochs × per epoch). */
  steps: { perEpoch: number; total: number };
  /** Null when no step was measured (`measureSteps: 0`). */
  estimate: DryRunEstimate | null;
  /** Records cut, a --max-length past the context: lines the user should read before training. */
  warnings: string[];
  /** The first 3 training examples, and the first cut one when none of those is. */
  samples: ReturnType<typeof renderExample>[];
}

export interface DryRunOptions extends TuneRunOptions {
  /** Steps to time for the estimate, after one warm-up micro-batch (default 1; 0 = no estimate). */
  measureSteps?: number;
}

/** What training would see, without training: counts, token lengths, warnings, steps, time, examples. */
export async function dryRunTune(options: TuneOptions, run: DryRunOptions = {}): Promise<DryRunReport> {
  const o = resolveTuneOptions(options);
  const loaded = await loadLlama(o.model, {
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.config ? { config: run.config } : {}),
    ...storageOption(o),
  });
  const data = await prepareTuneData(loaded.tokenizer, o, limitsOf(run.config));
  const { train: tr, val } = data.stats;
  const perEpoch = Math.ceil(epochBatches(data.train, { batchSize: o.batchSize }, o.seed, 0).length / o.gradAccum);
  const total = Math.max(1, o.maxSteps ?? Math.ceil(perEpoch * o.epochs));
  const contextLength = loaded.model.config.contextLength;
  const samples = data.train.slice(0, 3);
  const firstCut = data.train.find((e) => e.cut);
  if (firstCut && !samples.some((e) => e.cut)) samples.push(firstCut);
  let estimate: DryRunEstimate | null = null;
  const measure = run.measureSteps ?? 1;
  if (measure > 0 && data.train.length > 0) {
    const { task } = createTuneTask(loaded, data, o);
    estimate = measureRun(task, data.val, o, { measure, total, padId: loaded.tokenizer.eosId ?? 0 });
  }
  return {
    model: o.model,
    template: data.template,
    records: { train: tr.records, val: val ? val.records : null },
    skipped: data.skipped,
    columns: data.columns,
    examples: { train: data.train.length, val: data.val.length },
    truncated: tr.truncated + (val?.truncated ?? 0),
    dropped: tr.dropped + (val?.dropped ?? 0),
    maxLength: o.maxLength,
    contextLength,
    tokens: lengthStats(tr.lengths),
    learnedTokens: tr.trainedTokens,
    steps: { perEpoch, total },
    estimate,
    warnings: dataWarnings(data, o, contextLength),
    samples: samples.map((e) => renderExample(loaded.tokenizer, e)),
  };
}

type Task = ReturnType<typeof createTuneTask>["task"];

/** Times `measure` steps (loss and backward of each micro-batch) after a warm-up micro-batch, and 2 eval batches. */
function measureRun(
  task: Task,
  val: Example[],
  o: { gradAccum: number; batchSize: number; evalEvery: number },
  m: { measure: number; total: number; padId: number },
): DryRunEstimate {
  const batches = task.epochBatches(0);
  const steps: number[] = [];
  task.setTraining(true);
  task.microStep(batches[0]!, 1); // warm-up: first calls set up kernels and caches
  for (let k = 0; k < m.measure; k++) {
    const from = (k * o.gradAccum) % batches.length;
    const group = batches.slice(from, from + o.gradAccum);
    const t = performance.now();
    for (const idx of group) task.microStep(idx, 1 / group.length);
    steps.push((performance.now() - t) / 1000);
  }
  for (const p of task.params) p.zeroGrad();
  task.setTraining(false);
  const secondsPerStep = steps.reduce((a, b) => a + b, 0) / Math.max(1, steps.length);
  const evaluations = val.length > 0 ? 1 + evalsLeft(0, m.total, o.evalEvery) : 0;
  let secondsPerEvaluation = 0;
  if (evaluations > 0) {
    const limits = { batchSize: o.batchSize };
    const valBatches = epochBatches(val, limits, 0, 0, false);
    const sample = valBatches.slice(0, 2);
    const t = performance.now();
    evalLoss(
      task.model,
      sample.flat().map((i) => val[i]!),
      limits,
      m.padId,
    );
    secondsPerEvaluation = (((performance.now() - t) / 1000) * valBatches.length) / Math.max(1, sample.length);
  }
  return {
    measuredSteps: steps.length,
    secondsPerStep,
    evaluations,
    secondsPerEvaluation,
    totalSeconds: secondsPerStep * m.total + secondsPerEvaluation * evaluations,
  };
}
