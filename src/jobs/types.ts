// Long work (ingest, tune, eval, crawl, embedding work) as jobs on a queue. One interface, two
// implementations: in-process (worker threads, for one machine and `infuse serve`) and Redis
// (BullMQ, for workers on several machines). The server's /api/jobs routes, `infuse worker` and
// `infuse ingest --queue` all speak this interface; a job's input and result are the same
// snake_case-free library values the CLI's --json prints through toWire.
import type { ProgressEvent } from "../core/progress.js";
import type { WireError } from "../core/worker-thread.js";

export type JobStatus = "queued" | "running" | "done" | "failed" | "cancelled";

/** What a job does; each kind has one handler and one zod input schema (jobs/handlers.ts). */
export type JobKind =
  | "ingest"
  | "tune"
  | "eval-retrieval"
  | "eval-answers"
  | "crawl"
  | "pull"
  | "embed-queries"
  | "embed-mine"
  | "embed-tune";

export interface JobRecord {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** The latest progress event, when the handler reported one. */
  progress?: ProgressEvent;
  /** Numeric series a UI can chart (e.g. loss, eval_loss, tokens_per_second), latest values. */
  metrics?: Record<string, number>;
  /** The handler's return value, when status is "done". */
  result?: unknown;
  /** Why it failed, when status is "failed" (an InfuseError's code, message and hint). */
  error?: WireError;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** How many times it was started (a job whose worker died is started again). */
  attempts: number;
}

export type JobEvent =
  | { type: "status"; job: JobRecord }
  | { type: "progress"; progress: ProgressEvent }
  | { type: "metric"; step: number; metrics: Record<string, number> }
  | { type: "log"; message: string };

export interface JobContext {
  signal: AbortSignal;
  progress(event: ProgressEvent): void;
  metric(step: number, metrics: Record<string, number>): void;
  log(message: string): void;
}

/** Runs one kind of job. Input has been validated by the kind's schema before it is queued. */
export type JobHandler = (input: unknown, context: JobContext) => Promise<unknown>;

export interface JobQueue {
  /** Validates the input against the kind's schema (InfuseError input.* naming the field) and queues it. */
  submit(kind: JobKind, input: unknown): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | undefined>;
  /** The validated input a job was submitted with (to run it again, e.g. resume a tune). */
  input(id: string): Promise<unknown>;
  list(): Promise<JobRecord[]>;
  /** Cancels a queued or running job; a finished job is returned unchanged. */
  cancel(id: string): Promise<JobRecord>;
  /** Events from now until the job finishes (a finished job yields its final status and ends). */
  events(id: string, signal?: AbortSignal): AsyncIterable<JobEvent>;
  close(): Promise<void>;
}
