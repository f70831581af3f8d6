// A live line chart of a job's metric series (loss and eval loss against step) on uPlot.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MetricPoint } from "./job.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];

/** The chart's columns: steps, then one series per key (null where a step lacks it). */
export function seriesData(points: MetricPoint[], keys: string[]): (number | null)[][] {
  const steps = points.map((p) => p.step);
  return [steps, ...keys.map((k) => points.map((p) => (typeof p.metrics[k] === "number" ? p.metrics[k]! : null)))];
}

export function MetricChart({ points, keys, label }: { points: MetricPoint[]; keys: string[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(240, Math.min(el.clientWidth || 600, 900));
    plot.current = new uPlot(
      {
        width: width(),
        height: 260,
        scales: { x: { time: false } },
        axes: [{ label: "step" }, { label: "loss" }],
        series: [
          { label: "step" },
          ...keys.map((k, i) => ({ label: k, stroke: COLORS[i % COLORS.length]!, width: 2, spanGaps: true })),
        ],
      },
      seriesData(points, keys) as uPlot.AlignedData,
      el,
    );
    const onResize = () => plot.current?.setSize({ width: width(), height: 260 });
    window.addEventListener("resize", onResize);
    return () => {
      window.removeEventListener("resize", onResize);
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [keys.join(",")]);
  useEffect(() => {
    plot.current?.setData(seriesData(points, keys) as uPlot.AlignedData);
  }, [points]);
  return <div ref={box} class="chart" role="img" aria-label={label} data-points={points.length} />;
}
