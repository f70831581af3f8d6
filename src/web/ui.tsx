// Small shared pieces: error lines, progress bars, model and collection pickers, job status.
// Text from the server is always rendered as text nodes (JSX escapes it), never parsed as markup.
import { useEffect, useState } from "preact/hooks";
import { ApiError, getJson } from "./api.js";
import { listModels, type ModelInfo } from "./chat-api.js";
import { etaSeconds, formatDuration, type JobView } from "./job.js";

export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.hint ? `${e.message} (${e.hint})` : e.message;
  return e instanceof Error ? e.message : String(e);
}

export function ErrorLine({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function ProgressBar({ done, total, label }: { done: number; total?: number | undefined; label: string }) {
  const known = total !== undefined && total > 0;
  return (
    <progress
      aria-label={label}
      value={known ? Math.min(done, total) : undefined}
      max={known ? total : undefined}
      class="bar"
    />
  );
}

/** A collection as `/api/collections` lists it (the store's summary). */
export interface CollectionInfo {
  name: string;
  /** Documents (ingested files) in it. */
  units?: number;
  chunks?: number;
  embedder?: string;
}

/** `/api/collections` as a list, whatever envelope the server uses. */
export async function listCollections(signal?: AbortSignal): Promise<CollectionInfo[]> {
  const body = await getJson<unknown>("/api/collections", signal);
  const list = Array.isArray(body)
    ? body
    : ((body as { collections?: unknown[]; data?: unknown[] }).collections ??
      (body as { data?: unknown[] }).data ??
      []);
  return list.map((c) => (typeof c === "string" ? { name: c } : (c as CollectionInfo)));
}

export function useModels(): { models: ModelInfo[]; error?: string } {
  const [state, setState] = useState<{ models: ModelInfo[]; error?: string }>({ models: [] });
  useEffect(() => {
    const controller = new AbortController();
    listModels(controller.signal).then(
      (models) => setState({ models }),
      (e: unknown) => !controller.signal.aborted && setState({ models: [], error: messageOf(e) }),
    );
    return () => controller.abort();
  }, []);
  return state;
}

export function useCollections(reload = 0): { collections: CollectionInfo[]; error?: string; loaded: boolean } {
  const [state, setState] = useState<{ collections: CollectionInfo[]; error?: string; loaded: boolean }>({
    collections: [],
    loaded: false,
  });
  useEffect(() => {
    const controller = new AbortController();
    listCollections(controller.signal).then(
      (collections) => setState({ collections, loaded: true }),
      (e: unknown) => !controller.signal.aborted && setState({ collections: [], error: messageOf(e), loaded: true }),
    );
    return () => controller.abort();
  }, [reload]);
  return state;
}

export function Select(props: {
  id: string;
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange(value: string): void;
  empty?: string;
}) {
  return (
    <label for={props.id} class="field">
      <span>{props.label}</span>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.options.length === 0 ? <option value="">{props.empty ?? "none"}</option> : null}
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A job's status line: state, progress bar with its task and note, rate-based ETA, error. */
export function JobStatus({ view, label }: { view: JobView; label: string }) {
  const [now, setNow] = useState(Date.now());
  const status = view.record?.status ?? "queued";
  useEffect(() => {
    if (status !== "running") return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [status]);
  const p = view.progress;
  // the job's own note may carry its ETA already (tune's does: step and eval times measured)
  const eta = status === "running" && !/\beta\b/i.test(p?.note ?? "") ? etaSeconds(view, now) : undefined;
  const error = view.record?.error;
  return (
    <div class="job" data-status={status} aria-live="polite">
      <div class="job-line">
        <span class={`badge ${status}`}>{status}</span>
        {p ? (
          <span class="muted">
            {p.task} {p.done}
            {p.total !== undefined ? `/${p.total}` : ""} {p.unit ?? ""}
            {p.note ? ` · ${p.note}` : ""}
          </span>
        ) : null}
        {eta !== undefined ? <span class="muted">ETA {formatDuration(eta)}</span> : null}
      </div>
      {p && status === "running" ? <ProgressBar done={p.done} total={p.total} label={label} /> : null}
      {error ? (
        <p class="error" role="alert">
          {error.message}
          {error.hint ? ` (${error.hint})` : ""}
        </p>
      ) : null}
      <ErrorLine error={view.error} />
    </div>
  );
}
