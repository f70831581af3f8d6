// The in-process JobQueue, for one machine and `infuse serve`: jobs run in this process (heavy
// library work already runs in worker threads) up to a concurrency limit; records live in memory and,
// given a file, in JSON there, so a restart lists earlier jobs (a job that was running becomes failed
// with `jobs.interrupted`; queued ones are queued again).
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { diskError, InfuseError, isInfuseError } from "../core/errors.js";
import type { ProgressEvent } from "../core/progress.js";
import { errorToWire } from "../core/worker-thread.js";
import { validateJobInput, type JobRegistry } from "./handlers.js";
import { isFinished, JobEvents } from "./job-events.js";
import type { JobContext, JobEvent, JobKind, JobQueue, JobRecord } from "./types.js";

export interface LocalQueueOptions {
  handlers: JobRegistry;
  /** Jobs run at once; default 1. */
  concurrency?: number;
  /** A JSON file that keeps the jobs across restarts; default none (memory only). */
  file?: string;
}

interface Entry {
  record: JobRecord;
  input: unknown;
  controller?: AbortController;
}

const FILE_VERSION = 1;

export class LocalJobQueue implements JobQueue {
  readonly #handlers: JobRegistry;
  readonly #concurrency: number;
  readonly #file: string | undefined;
  readonly #jobs = new Map<string, Entry>();
  readonly #pending: string[] = [];
  readonly #running = new Map<string, Promise<void>>();
  readonly #events = new JobEvents();
  #saving: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(options: LocalQueueOptions) {
    this.#handlers = options.handlers;
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
    this.#file = options.file;
  }

  /** A queue; with `file`, the jobs it holds are read back first. */
  static async open(options: LocalQueueOptions): Promise<LocalJobQueue> {
    const queue = new LocalJobQueue(options);
    if (options.file) await queue.#load(options.file);
    queue.#pump();
    return queue;
  }

  async submit(kind: JobKind, input: unknown): Promise<JobRecord> {
    this.#checkOpen();
    const parsed = validateJobInput(this.#handlers, kind, input);
    const record: JobRecord = { id: randomUUID(), kind, status: "queued", createdAt: now(), attempts: 0 };
    this.#jobs.set(record.id, { record, input: parsed });
    this.#pending.push(record.id);
    const queued = copy(record);
    await this.#save();
    this.#pump();
    return queued;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const e = this.#jobs.get(id);
    return e ? copy(e.record) : undefined;
  }

  async input(id: string): Promise<unknown> {
    return structuredClone(this.#jobs.get(id)?.input);
  }

  async list(): Promise<JobRecord[]> {
    return [...this.#jobs.values()].map((e) => copy(e.record));
  }

  async cancel(id: string): Promise<JobRecord> {
    const e = this.#jobs.get(id);
    if (!e) throw notFound(id);
    if (e.record.status === "queued") {
      this.#pending.splice(this.#pending.indexOf(id), 1);
      await this.#finish(e, { status: "cancelled" });
    } else if (e.record.status === "running") {
      e.controller?.abort(new InfuseError("cancelled", `job ${id} was cancelled`, { kind: "cancelled" }));
      await this.#running.get(id);
    }
    return copy(e.record);
  }

  events(id: string, signal?: AbortSignal): AsyncIterable<JobEvent> {
    return this.#events.stream(id, () => this.get(id), signal);
  }

  /** Stops taking jobs; running ones are stopped and recorded as failed `jobs.interrupted`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.#jobs.values()) {
      e.controller?.abort(new InfuseError("jobs.interrupted", "the job queue closed", { kind: "cancelled" }));
    }
    await Promise.allSettled(this.#running.values());
    await this.#save();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new InfuseError("jobs.closed", "the job queue is closed", {
        kind: "usage",
        hint: "open a new queue (LocalJobQueue.open) to submit jobs",
      });
    }
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#concurrency && this.#pending.length > 0) {
      const id = this.#pending.shift()!;
      const run = this.#run(this.#jobs.get(id)!).finally(() => {
        this.#running.delete(id);
        this.#pump();
      });
      this.#running.set(id, run);
    }
  }

  async #run(e: Entry): Promise<void> {
    const controller = new AbortController();
    e.controller = controller;
    Object.assign(e.record, { status: "running", startedAt: now(), attempts: e.record.attempts + 1 });
    this.#status(e);
    await this.#save();
    const id = e.record.id;
    const context: JobContext = {
      signal: controller.signal,
      progress: (progress: ProgressEvent) => {
        e.record.progress = progress;
        this.#events.emit(id, { type: "progress", progress });
      },
      metric: (step, metrics) => {
        e.record.metrics = { ...e.record.metrics, ...metrics, step };
        this.#events.emit(id, { type: "metric", step, metrics });
      },
      log: (message) => this.#events.emit(id, { type: "log", message }),
    };
    try {
      // a macrotask turn first, so submit() returns before a handler's synchronous start runs
      await new Promise<void>((resolve) => setImmediate(resolve));
      const result = await this.#handlers[e.record.kind]!.handler(e.input, context);
      await this.#finish(e, { status: "done", result });
    } catch (error) {
      const reason: unknown = controller.signal.reason;
      if (isInfuseError(reason) && reason.code === "jobs.interrupted") {
        await this.#finish(e, { status: "failed", error: errorToWire(reason) });
      } else if (controller.signal.aborted) {
        await this.#finish(e, { status: "cancelled" });
      } else {
        await this.#finish(e, { status: "failed", error: errorToWire(error) });
      }
    } finally {
      delete e.controller;
    }
  }

  async #finish(e: Entry, change: Pick<JobRecord, "status"> & Partial<JobRecord>): Promise<void> {
    Object.assign(e.record, change, { finishedAt: now() });
    if (e.record.error) delete e.record.error.stack;
    this.#status(e);
    await this.#save();
  }

  #status(e: Entry): void {
    this.#events.emit(e.record.id, { type: "status", job: copy(e.record) });
  }

  /** Writes every job (temp file + rename, one write at a time) when the queue has a file. */
  #save(): Promise<void> {
    const file = this.#file;
    if (!file) return Promise.resolve();
    const body = JSON.stringify({
      version: FILE_VERSION,
      jobs: [...this.#jobs.values()].map((e) => ({ record: e.record, input: e.input })),
    });
    this.#saving = this.#saving.then(async () => {
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(tmp, body);
        await rename(tmp, file);
      } catch (error) {
        throw diskError(error, file, "save the job list", "the jobs stay in memory");
      }
    });
    return this.#saving;
  }

  async #load(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw diskError(error, file, "read the job list");
    }
    let saved: { version?: number; jobs?: { record: JobRecord; input: unknown }[] };
    try {
      saved = JSON.parse(text) as typeof saved;
    } catch (error) {
      throw new InfuseError("jobs.bad_file", `${file} is not a job list (${(error as Error).message})`, {
        kind: "input",
        hint: `move ${file} away to start with an empty job list`,
        cause: error,
      });
    }
    for (const { record, input } of saved.jobs ?? []) {
      if (record.status === "running") {
        Object.assign(record, {
          status: "failed",
          finishedAt: now(),
          error: { code: "jobs.interrupted", kind: "cancelled", message: "the process running the job stopped" },
        });
      }
      this.#jobs.set(record.id, { record, input });
      if (record.status === "queued") this.#pending.push(record.id);
    }
    await this.#save();
  }
}

function now(): string {
  return new Date().toISOString();
}

function copy(r: JobRecord): JobRecord {
  return structuredClone(r);
}

export function notFound(id: string): InfuseError {
  return new InfuseError("jobs.not_found", `no job ${id}`, {
    kind: "not_found",
    hint: "list the jobs to see their ids",
    details: { id },
  });
}

export { isFinished };
