// Progress and cancellation for long work. Library functions take `TaskOptions`; the CLI
// renders the events as progress bars, a server could stream them, tests can record them.

export interface ProgressEvent {
  /** What is being done, e.g. "download model.gguf" or "embed chunks". */
  task: string;
  /** Units done so far. */
  done: number;
  /** Units in all, when known. */
  total?: number;
  /** What a unit is, e.g. "bytes", "docs", "steps". */
  unit?: string;
  /** A short line about the current item, e.g. a file name or a loss value. */
  note?: string;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** Options every long-running library call accepts. */
export interface TaskOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

/** Rate-limits progress events so tight loops can report every unit cheaply. */
export function throttledProgress(listener: ProgressListener | undefined, intervalMs = 100): ProgressListener {
  if (!listener) return () => {};
  let last = 0;
  return (event) => {
    const now = Date.now();
    const finished = event.total !== undefined && event.done >= event.total;
    if (finished || now - last >= intervalMs) {
      last = now;
      listener(event);
    }
  };
}
