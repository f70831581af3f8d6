// Per-job event fan-out shared by the queues: any number of listeners, each an async iterable that
// starts with the job's current status and ends after its final one (a finished job replays it).
import type { JobEvent, JobRecord, JobStatus } from "./types.js";

export const FINISHED: ReadonlySet<JobStatus> = new Set(["done", "failed", "cancelled"]);

export function isFinished(job: JobRecord): boolean {
  return FINISHED.has(job.status);
}

type Listener = (event: JobEvent) => void;

export class JobEvents {
  readonly #listeners = new Map<string, Set<Listener>>();

  emit(id: string, event: JobEvent): void {
    for (const l of this.#listeners.get(id) ?? []) l(event);
  }

  /**
   * The events of job `id` from now: its status as `current()` gives it, then each event until a
   * final status (or until `signal` fires). `current` is read after subscribing, so nothing is lost.
   */
  async *stream(
    id: string,
    current: () => Promise<JobRecord | undefined>,
    signal?: AbortSignal,
  ): AsyncGenerator<JobEvent> {
    const buffer: JobEvent[] = [];
    let wake: (() => void) | undefined;
    const listener: Listener = (e) => {
      buffer.push(e);
      wake?.();
    };
    const onAbort = () => wake?.();
    let set = this.#listeners.get(id);
    if (!set) this.#listeners.set(id, (set = new Set()));
    set.add(listener);
    signal?.addEventListener("abort", onAbort);
    try {
      const job = await current();
      if (!job) return;
      yield { type: "status", job };
      if (isFinished(job)) return;
      for (;;) {
        while (buffer.length > 0) {
          const e = buffer.shift()!;
          yield e;
          if (e.type === "status" && isFinished(e.job)) return;
        }
        if (signal?.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(id);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
