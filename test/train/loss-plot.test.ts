// loss.svg and progress for people: a log loss axis when the losses span decades, round tick labels,
// the learning-rate curve and eval points; the ETA and the progress lines printed without a terminal.
import { describe, expect, it } from "vitest";
import { logScale, logTicks, lossSvg, niceTicks, tickLabel } from "../../src/train/loss-plot.js";
import type { MetricLine } from "../../src/train/metrics.js";
import { etaSeconds, evalsLeft, formatDuration, progressLines } from "../../src/train/progress.js";

const run = (from: number, to: number, steps: number): MetricLine[] =>
  Array.from({ length: steps }, (_, i) => ({
    step: i + 1,
    epoch: 0,
    loss: from * (to / from) ** (i / (steps - 1)),
    lr: 2e-4 * Math.cos((Math.PI / 2) * (i / steps)),
    ...(i % 10 === 9 ? { eval_loss: from * (to / from) ** (i / (steps - 1)) * 1.1 } : {}),
  }));

const labels = (svg: string): string[] => [...svg.matchAll(/text-anchor="end">([^<]+)</g)].map((m) => m[1]!);

describe("loss.svg", () => {
  it("uses a log axis with round labels when the loss falls 5.68 → 0.001, and draws lr and eval points", () => {
    const svg = lossSvg(run(5.68, 0.001, 50), "stories LoRA");
    expect(svg).toContain("loss (log scale)");
    const ticks = labels(svg).filter((l) => /^[\d.e-]+$/.test(l));
    expect(ticks).toEqual(["0.001", "0.01", "0.1", "1"]); // powers of ten: 4 decades
    expect(svg).toContain('stroke="#2ca02c"'); // the learning-rate curve
    expect(svg).toContain("learning rate (right)");
    expect(svg.match(/<circle /g)).toHaveLength(5); // eval points at steps 10, 20, … 50
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it("stays linear within a decade, ticks at 1-2-5 steps; labels are short", () => {
    const svg = lossSvg(run(2.5, 1.2, 20));
    expect(svg).not.toContain("log scale");
    expect(labels(svg).filter((l) => /^[\d.]+$/.test(l))).toEqual(["1", "1.5", "2", "2.5"]);
    expect(logScale([5.68, 0.001])).toBe(true);
    expect(logScale([2.5, 1.2])).toBe(false);
    expect(niceTicks(0, 0.3, 3)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(logTicks(0.03, 0.6)).toEqual([0.05, 0.1, 0.2, 0.5]);
    expect([0.30000000000000004, 3e-5, 120, 0.05].map(tickLabel)).toEqual(["0.3", "3e-5", "120", "0.05"]);
  });
});

describe("progress", () => {
  it("estimates the time left from step and evaluation times and prints lines every N steps or seconds", () => {
    expect(evalsLeft(0, 15, 5)).toBe(3); // at 5, 10, 15
    expect(evalsLeft(0, 14, 5)).toBe(3); // at 5, 10 and the end
    expect(evalsLeft(0, 14, 0)).toBe(1); // the end
    expect(etaSeconds({ trainMs: 4000, evalMs: 3000, evals: 1, stepsTimed: 2 }, 10, 2)).toBe(26);
    expect([42, 185, 7440].map(formatDuration)).toEqual(["42s", "3m05s", "2h04m"]);
    const lines: string[] = [];
    let now = 0;
    const listen = progressLines((l) => lines.push(l), { everySeconds: 30, now: () => now });
    for (let step = 1; step <= 40; step++) {
      now += step === 5 ? 31_000 : 100; // a slow step 5: a line by time
      listen({ task: "train", done: step, total: 40, unit: "steps", note: `loss 1.000 · eta ${40 - step}s` });
    }
    expect(lines.map((l) => l.split(" ")[2])).toEqual([
      "1/40",
      "5/40",
      "9/40",
      "13/40",
      "17/40",
      "21/40",
      "25/40",
      "29/40",
      "33/40",
      "37/40",
      "40/40",
    ]);
    expect(lines[0]).toBe("train: step 1/40 (2%) loss 1.000 · eta 39s");
    expect(lines.at(-1)).toBe("train: step 40/40 (100%) loss 1.000 · eta 0s");
  });
});
