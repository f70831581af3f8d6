// Training metrics: one JSON line per logged step (step, loss, lr, tokens/s, eval loss and any other
// eval_<name> metric of the task) in metrics.jsonl, and loss.svg plotted from them (train and eval loss against step). No chart library.
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

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

/** An SVG line chart of training loss (blue) and eval loss (orange dots and line) by step. */
export function lossSvg(lines: MetricLine[], title = "loss"): string {
  const W = 640;
  const H = 360;
  const pad = { l: 56, r: 16, t: 28, b: 40 };
  const train = lines.filter((l) => l.loss !== undefined).map((l) => [l.step, l.loss!] as const);
  const evals = lines.filter((l) => l.eval_loss !== undefined).map((l) => [l.step, l.eval_loss!] as const);
  const all = [...train, ...evals];
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  // reductions, not Math.min(...xs): a long run's lines would overflow the call stack as arguments
  const x0 = xs.reduce((m, x) => Math.min(m, x), 0);
  const x1 = xs.reduce((m, x) => Math.max(m, x), 1);
  const y0 = ys.length ? ys.reduce((m, y) => Math.min(m, y), Infinity) : 0;
  const y1 = ys.length ? ys.reduce((m, y) => Math.max(m, y), -Infinity) : 1;
  const yr = y1 - y0 || 1;
  const sx = (x: number): number => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const sy = (y: number): number => H - pad.b - ((y - y0) / yr) * (H - pad.t - pad.b);
  const path = (pts: readonly (readonly [number, number])[]): string =>
    pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = y0 + f * yr;
    return `<line x1="${pad.l}" x2="${W - pad.r}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#eee"/><text x="${pad.l - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${fmt(y)}</text>`;
  });
  const xt = [0, 0.5, 1].map((f) => {
    const x = Math.round(x0 + f * (x1 - x0));
    return `<text x="${sx(x).toFixed(1)}" y="${H - pad.b + 16}" text-anchor="middle">${x}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${title}</text>`,
    ...ticks,
    ...xt,
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">step</text>`,
    train.length ? `<path d="${path(train)}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>` : "",
    evals.length ? `<path d="${path(evals)}" fill="none" stroke="#ff7f0e" stroke-width="1.5"/>` : "",
    ...evals.map((p) => `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="#ff7f0e"/>`),
    `<text x="${W - pad.r}" y="${pad.t}" text-anchor="end" fill="#1f77b4">train loss</text>`,
    `<text x="${W - pad.r}" y="${pad.t + 14}" text-anchor="end" fill="#ff7f0e">eval loss</text>`,
    `</svg>`,
    "",
  ].join("\n");
}
