// Following a job from the browser: its record, every metric point (for charts), log lines, and
// cancel. One hook, used by the upload, training and evaluation pages.
import { useEffect, useState } from "preact/hooks";
import { getJson, isFinished, jobEvents, request, type JobEvent, type JobRecord } from "./api.js";
import type { ProgressEvent } from "../core/progress.js";

export interface MetricPoint {
  step: number;
  metrics: Record<string, number>;
}

export interface JobView {
  record?: JobRecord | undefined;
  progress?: ProgressEvent | undefined;
  points: MetricPoint[];
  logs: string[];
  /** When the browser first saw the job running (for rates and ETA). */
  startedAt?: number | undefined;
  /** Units already done then: the rate counts only what the browser saw happen. */
  startedDone?: number | undefined;
  error?: string | undefined;
}

/** Subscribes to `/api/jobs/{id}/events` while mounted; falls back to one GET when the stream fails. */
export function useJob(id: string | undefined): JobView {
  const [view, setView] = useState<JobView>({ points: [], logs: [] });
  useEffect(() => {
    if (!id) return;
    setView({ points: [], logs: [] });
    const controller = new AbortController();
    void (async () => {
      try {
        for await (const event of jobEvents(id, controller.signal)) {
          setView((v) => apply(v, event));
          if (event.type === "status" && isFinished(event.job.status)) break;
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        setView((v) => ({ ...v, error: e instanceof Error ? e.message : String(e) }));
      }
      if (controller.signal.aborted) return;
      // the stream ended: make sure the final record is shown
      try {
        const record = await getJson<JobRecord>(`/api/jobs/${encodeURIComponent(id)}`, controller.signal);
        setView((v) => ({ ...v, record, progress: record.progress ?? v.progress }));
      } catch {
        // keep what the stream said
      }
    })();
    return () => controller.abort();
  }, [id]);
  return view;
}

function apply(v: JobView, event: JobEvent): JobView {
  switch (event.type) {
    case "status": {
      const startedAt = v.startedAt ?? (event.job.status === "running" ? Date.now() : undefined);
      const next: JobView = { ...v, record: event.job, progress: event.job.progress ?? v.progress };
      if (startedAt !== undefined) {
        next.startedAt = startedAt;
        next.startedDone = v.startedDone ?? next.progress?.done ?? 0;
      }
      return next;
    }
    case "progress":
      return {
        ...v,
        progress: event.progress,
        startedAt: v.startedAt ?? Date.now(),
        startedDone: v.startedDone ?? event.progress.done,
      };
    case "metric":
      return { ...v, points: [...v.points, { step: event.step, metrics: event.metrics }] };
    case "log":
      return { ...v, logs: [...v.logs.slice(-199), event.message] };
  }
}

export async function cancelJob(id: string): Promise<void> {
  await request("DELETE", `/api/jobs/${encodeURIComponent(id)}`);
}

/** Seconds left at the rate seen so far, when the progress has a total. */
export function etaSeconds(view: JobView, now: number): number | undefined {
  const p = view.progress;
  if (!p || p.total === undefined || view.startedAt === undefined) return undefined;
  const seen = p.done - (view.startedDone ?? 0);
  if (seen <= 0) return undefined;
  const elapsed = (now - view.startedAt) / 1000;
  return Math.max(0, ((p.total - p.done) * elapsed) / seen);
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}
