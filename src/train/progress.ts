// Training progress for people: the time left (mean step and evaluation times so far × what is left),
// and progress lines for runs without a terminal (nohup, CI), where no bar is drawn: one line every N
// steps or seconds. Leaves out drawing bars (the CLI's output does).
import type { ProgressEvent, ProgressListener } from "../core/progress.js";

/** Evaluations still to come after `step`: every `evalEvery` steps and at the end. */
export function evalsLeft(step: number, totalSteps: number, evalEvery: number): number {
  const periodic = evalEvery > 0 ? Math.floor(totalSteps / evalEvery) - Math.floor(step / evalEvery) : 0;
  const last = evalEvery > 0 && totalSteps % evalEvery === 0 ? 0 : 1;
  return step < totalSteps ? periodic + last : 0;
}

/** Seconds left: the mean step time so far × steps left, and the mean evaluation × evaluations left. */
export function etaSeconds(
  t: { trainMs: number; evalMs: number; evals: number; stepsTimed: number },
  stepsLeft: number,
  evals: number,
): number {
  const step = t.stepsTimed > 0 ? t.trainMs / t.stepsTimed : 0;
  const ev = t.evals > 0 ? t.evalMs / t.evals : 0;
  return (step * stepsLeft + ev * evals) / 1000;
}

/** 42s, 3m05s, 2h04m. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export interface ProgressLineOptions {
  /** A line at least every this many seconds (default 30; 0 = every event). */
  everySeconds?: number;
  /** A line at least every this many steps (default: a tenth of the run). */
  everySteps?: number;
  /** The clock (ms); tests pass their own. */
  now?: () => number;
}

/**
 * A progress listener that writes `train: step 40/400 (10%) loss 2.310 · eta 3m12s` lines through
 * `write`: for the "train" task every N steps or seconds and at the end, for other tasks when they end.
 */
export function progressLines(write: (line: string) => void, o: ProgressLineOptions = {}): ProgressListener {
  const now = o.now ?? (() => Date.now());
  const everyMs = (o.everySeconds ?? 30) * 1000;
  const last = new Map<string, { at: number; done: number }>();
  return (e: ProgressEvent) => {
    const prev = last.get(e.task);
    const t = now();
    const end = e.total !== undefined && e.done >= e.total;
    const stepEvery = o.everySteps ?? Math.max(1, Math.ceil((e.total ?? 10) / 10));
    const due =
      end || prev === undefined ? e.task === "train" || end : t - prev.at >= everyMs || e.done - prev.done >= stepEvery;
    if (!due || (prev && prev.done === e.done && !end)) return;
    last.set(e.task, { at: t, done: e.done });
    const of = e.total !== undefined ? `/${e.total} (${Math.floor((100 * e.done) / Math.max(1, e.total))}%)` : "";
    const unit = e.unit === "steps" ? "step " : "";
    const count = unit ? `${unit}${e.done}${of}` : `${e.done}${of} ${e.unit ?? ""}`.trim();
    write(`${e.task}: ${count}${e.note ? ` ${e.note}` : ""}`);
  };
}
