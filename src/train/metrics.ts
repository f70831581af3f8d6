// Training metrics: one JSON line per logged step (step, loss, lr, tokens/s, eval loss and any other
// eval_<name> metric of the task) in metrics.jsonl; loss.svg is drawn from them by loss-plot.ts.
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { parseJsonLines } from "../formats/jsonl.js";

export interface MetricLine {
  step: number;
  epoch: number;
  loss?: number;
  lr?: number;
  grad_norm?: number;
  tokens?: number;
  tokens_per_s?: number;
  eval_loss?: number;
  elapsed_s?: number;
  /** A task's other evaluation metrics (eval_ndcg@10, eval_accuracy, …). */
  [metric: `eval_${string}`]: number | undefined;
}

export class MetricsLog {
  readonly lines: MetricLine[] = [];
  /** Whether `open` ran (a run refused before it leaves the folder's files as they were). */
  opened = false;
  constructor(readonly file: string) {}

  /** Starts the file afresh, keeping earlier lines up to `step` (a resume). */
  async open(keepUpTo: number | null): Promise<void> {
    if (keepUpTo !== null) {
      const old = await readFile(this.file, "utf8").catch(() => "");
      for (const l of parseJsonLines(old)) {
        // a line torn by a kill mid-write is dropped: the checkpoint's step is what counts
        if (!l.ok) continue;
        const m = l.value as MetricLine;
        if (m.step <= keepUpTo) this.lines.push(m);
      }
    }
    await writeFile(this.file, this.lines.map((l) => JSON.stringify(l) + "\n").join(""));
    this.opened = true;
  }

  async add(line: MetricLine): Promise<void> {
    this.lines.push(line);
    await appendFile(this.file, JSON.stringify(line) + "\n");
  }
}

export { lossSvg } from "./loss-plot.js";
