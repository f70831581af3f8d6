// loss.svg from metrics.jsonl lines: train loss (blue line), eval loss (orange line and points), and
// the learning rate (green dashes, its own axis on the right). The loss axis turns logarithmic when
// the losses span more than one decade (5.7 → 0.001 stays readable); ticks fall on round numbers.
// No chart library. Leaves out smoothing and interactive views (the web UI draws those).
import type { MetricLine } from "./metrics.js";

const W = 640;
const H = 360;
const PAD = { l: 56, r: 60, t: 28, b: 40 };

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Ticks of a log axis over [lo, hi] (both > 0): 1, 2, 5 × 10^k inside the range (only powers of 10 over more than 2 decades). */
export function logTicks(lo: number, hi: number): number[] {
  const k0 = Math.floor(Math.log10(lo));
  const k1 = Math.ceil(Math.log10(hi));
  const mults = k1 - k0 > 2 ? [1] : [1, 2, 5];
  const out: number[] = [];
  for (let k = k0; k <= k1; k++) {
    for (const m of mults) {
      const v = Number((m * 10 ** k).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

/** A tick label: 0.001, 0.05, 2.5, 120, 3e-5 — short, never 0.30000000000000004. */
export function tickLabel(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

type Point = readonly [number, number];

const min = (xs: number[], d: number): number => (xs.length ? xs.reduce((m, x) => Math.min(m, x), Infinity) : d);
const max = (xs: number[], d: number): number => (xs.length ? xs.reduce((m, x) => Math.max(m, x), -Infinity) : d);

/** Whether the loss axis is logarithmic: every value positive and the largest over 10 × the smallest. */
export function logScale(values: number[]): boolean {
  return values.length > 1 && values.every((v) => v > 0) && max(values, 1) / min(values, 1) > 10;
}

/** An SVG chart of train loss, eval loss (points) and learning rate by step. */
export function lossSvg(lines: MetricLine[], title = "loss"): string {
  const pick = (f: (l: MetricLine) => number | undefined): Point[] =>
    lines.flatMap((l) => {
      const v = f(l);
      return v !== undefined && Number.isFinite(v) ? [[l.step, v] as const] : [];
    });
  const train = pick((l) => l.loss);
  const evals = pick((l) => l.eval_loss);
  const lrs = pick((l) => l.lr);
  const ys = [...train, ...evals].map((p) => p[1]);
  const steps = [...train, ...evals, ...lrs].map((p) => p[0]);
  const [x0, x1] = [Math.min(0, min(steps, 0)), Math.max(1, max(steps, 1))];
  const log = logScale(ys);
  let [y0, y1] = [min(ys, 0), max(ys, 1)];
  if (!log) {
    if (y1 - y0 < 1e-12) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const t = niceTicks(y0, y1);
    const step = t.length > 1 ? t[1]! - t[0]! : 1;
    [y0, y1] = [Math.floor(y0 / step) * step, Math.ceil(y1 / step) * step];
  }
  const tf = (y: number): number => (log ? Math.log10(y) : y);
  const [f0, f1] = [tf(y0), tf(y1)];
  const sx = (x: number): number => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const sy = (y: number): number => H - PAD.b - ((tf(y) - f0) / (f1 - f0 || 1)) * (H - PAD.t - PAD.b);
  const lrMax = max(
    lrs.map((p) => p[1]),
    0,
  );
  const sLr = (v: number): number => H - PAD.b - (v / (lrMax || 1)) * (H - PAD.t - PAD.b);
  const d = (pts: Point[], fy: (v: number) => number): string =>
    pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${fy(p[1]).toFixed(1)}`).join(" ");
  const yTicks = (log ? logTicks(y0, y1) : niceTicks(y0, y1)).map((v) => {
    const y = sy(v).toFixed(1);
    return `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${PAD.l - 6}" y="${(Number(y) + 4).toFixed(1)}" text-anchor="end">${tickLabel(v)}</text>`;
  });
  const xTicks = niceTicks(x0, x1, 6)
    .filter((x) => Number.isInteger(x))
    .map((x) => `<text x="${sx(x).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${x}</text>`);
  const lrTicks = lrs.length
    ? niceTicks(0, lrMax, 4).map(
        (v) => `<text x="${W - PAD.r + 6}" y="${(sLr(v) + 4).toFixed(1)}" fill="#2ca02c">${tickLabel(v)}</text>`,
      )
    : [];
  const legend = [
    ["#1f77b4", "train loss"],
    ...(evals.length ? [["#ff7f0e", "eval loss"]] : []),
    ...(lrs.length ? [["#2ca02c", "learning rate (right)"]] : []),
  ].map(([c, t], i) => `<text x="${W - PAD.r}" y="${PAD.t + 14 * i}" text-anchor="end" fill="${c}">${t}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    ...yTicks,
    ...xTicks,
    ...lrTicks,
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">step</text>`,
    `<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">loss${log ? " (log scale)" : ""}</text>`,
    lrs.length ? `<path d="${d(lrs, sLr)}" fill="none" stroke="#2ca02c" stroke-width="1" stroke-dasharray="4 3"/>` : "",
    train.length ? `<path d="${d(train, sy)}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>` : "",
    evals.length ? `<path d="${d(evals, sy)}" fill="none" stroke="#ff7f0e" stroke-width="1.5"/>` : "",
    ...evals.map((p) => `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="#ff7f0e"/>`),
    ...legend,
    `</svg>`,
    "",
  ].join("\n");
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
