// The Redis-backed JobQueue (BullMQ), for workers on several machines: `submit` queues a job that any
// `infuse worker` takes (RedisJobWorker); a worker that dies mid-job stops renewing its lock, and
// BullMQ's stalled-job check hands the job to another worker (up to `maxStalledCount` times). Progress,
// metrics and logs travel as job progress (the latest snapshot plus the event), cancellation as a key
// (jobs not started) and a pub/sub message (jobs running on some worker).
import { randomUUID } from "node:crypto";
import { Job, Queue, QueueEvents, Worker, type JobState } from "bullmq";
import { InfuseError, isInfuseError } from "../core/errors.js";
import type { ProgressEvent } from "../core/progress.js";
import { errorToWire, type WireError } from "../core/worker-thread.js";
import { validateJobInput, type JobRegistry } from "./handlers.js";
import { JobEvents } from "./job-events.js";
import { notFound } from "./local-queue.js";
import type { JobContext, JobEvent, JobHandler, JobKind, JobQueue, JobRecord, JobStatus } from "./types.js";

export interface RedisQueueOptions {
  /** redis://host:port[/db] */
  url: string;
  /** The registry whose schemas check inputs (a worker also runs its handlers). */
  handlers: JobRegistry;
  /** The BullMQ queue name; default "infuse-jobs". */
  name?: string;
  /** Key prefix in Redis; default "infuse". Tests use their own. */
  prefix?: string;
  /** How often a dead worker's job is given to another (BullMQ maxStalledCount); default 2. */
  maxStalled?: number;
}

export interface RedisWorkerOptions extends RedisQueueOptions {
  /** Jobs this worker runs at once; default 1. */
  concurrency?: number;
  /** How long a worker's lock on a job lasts unless renewed (ms); default 30,000. */
  lockDuration?: number;
  /** How often workers look for jobs whose lock expired (ms); default 30,000. */
  stalledInterval?: number;
}

/** What a job's BullMQ progress holds: the latest values, and the event that set them. */
interface Snapshot {
  progress?: ProgressEvent;
  metrics?: Record<string, number>;
  error?: WireError;
  event?: JobEvent;
}

const DEFAULTS = { name: "infuse-jobs", prefix: "infuse", maxStalled: 2 };

/** The part of an ioredis client this module uses besides handing it to BullMQ. */
interface Redis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: "EX", seconds: number): Promise<unknown>;
  publish(channel: string, message: string): Promise<number>;
  subscribe(channel: string): Promise<unknown>;
  ping(): Promise<string>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  disconnect(): void;
}

/** The ioredis driver: BullMQ 6 takes it as an optional peer and, as an ES module, cannot load it itself. */
const IOREDIS: string = "ioredis";
let driver: Promise<new (url: string, options: object) => Redis> | undefined;

/** Whether the ioredis driver can be loaded here. */
export async function redisDriverAvailable(): Promise<boolean> {
  return import(IOREDIS).then(
    () => true,
    () => false,
  );
}

async function connection(url: string): Promise<Redis> {
  driver ??= import(IOREDIS).then(
    (m: { Redis?: unknown; default?: unknown }) =>
      (m.Redis ?? m.default) as new (url: string, options: object) => Redis,
    (e: unknown) => {
      driver = undefined;
      throw new InfuseError("jobs.redis_driver_missing", "the Redis client (ioredis) is not installed", {
        kind: "usage",
        hint: "install it beside infuse: npm install ioredis",
        cause: e,
      });
    },
  );
  const Client = await driver;
  return new Client(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

function keys(o: RedisQueueOptions) {
  const base = `${o.prefix ?? DEFAULTS.prefix}:${o.name ?? DEFAULTS.name}`;
  return { cancelled: (id: string) => `${base}:infuse-cancelled:${id}`, channel: `${base}:infuse-cancel` };
}

function statusOf(state: JobState | "unknown", snapshot: Snapshot, cancelledAt: string | null): JobStatus {
  if (state === "completed") return "done";
  if (state === "failed") return snapshot.error?.kind === "cancelled" || cancelledAt ? "cancelled" : "failed";
  if (cancelledAt) return "cancelled";
  return state === "active" ? "running" : "queued";
}

async function recordOf(
  fetched: Job,
  cancelledAt: string | null,
  reload?: () => Promise<Job | undefined>,
): Promise<JobRecord> {
  let job = fetched;
  const state = await job.getState();
  // the job finished between its fetch and this look at its state: its result is in a fresh fetch
  if ((state === "completed" || state === "failed") && !job.finishedOn && reload) job = (await reload()) ?? job;
  const snapshot = (typeof job.progress === "object" ? job.progress : {}) as Snapshot;
  const status = statusOf(state, snapshot, cancelledAt);
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);
  const finishedAt = iso(job.finishedOn) ?? (status === "cancelled" ? (cancelledAt ?? undefined) : undefined);
  const startedAt = iso(job.processedOn);
  const error: WireError | undefined =
    status === "failed" ? (snapshot.error ?? { message: job.failedReason || "the job failed" }) : undefined;
  return {
    id: job.id!,
    kind: job.name as JobKind,
    status,
    ...(snapshot.progress ? { progress: snapshot.progress } : {}),
    ...(snapshot.metrics ? { metrics: snapshot.metrics } : {}),
    ...(status === "done" ? { result: job.returnvalue } : {}),
    ...(error ? { error } : {}),
    createdAt: new Date(job.timestamp).toISOString(),
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
    attempts: job.attemptsStarted ?? job.attemptsMade,
  };
}

export class RedisJobQueue implements JobQueue {
  readonly #options: RedisQueueOptions;
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #events = new JobEvents();
  #queueEvents: QueueEvents | undefined;
  #eventsRedis: Redis | undefined;

  private constructor(options: RedisQueueOptions, redis: Redis) {
    this.#options = options;
    this.#redis = redis;
    this.#queue = new Queue(options.name ?? DEFAULTS.name, {
      connection: redis as never,
      prefix: options.prefix ?? DEFAULTS.prefix,
    });
  }

  /** A client of the queue at `url` (it runs nothing: `infuse worker` does). */
  static async open(options: RedisQueueOptions): Promise<RedisJobQueue> {
    const redis = await reachableConnection(options.url);
    const q = new RedisJobQueue(options, redis);
    await q.#queue.waitUntilReady();
    return q;
  }

  async submit(kind: JobKind, input: unknown): Promise<JobRecord> {
    const parsed = validateJobInput(this.#options.handlers, kind, input);
    const job = await this.#queue.add(kind, parsed, {
      jobId: randomUUID(),
      attempts: 1, // a job that fails is not retried (its error is the answer); a dead worker's is (stalled)
      removeOnComplete: false,
      removeOnFail: false,
    });
    return recordOf(job, null);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const job = await Job.fromId(this.#queue, id);
    return job
      ? recordOf(job, await this.#redis.get(keys(this.#options).cancelled(id)), () => Job.fromId(this.#queue, id))
      : undefined;
  }

  async input(id: string): Promise<unknown> {
    return (await Job.fromId(this.#queue, id))?.data;
  }

  async list(): Promise<JobRecord[]> {
    const jobs = await this.#queue.getJobs(["waiting", "active", "delayed", "prioritized", "completed", "failed"]);
    const records = await Promise.all(
      jobs.map(async (j) =>
        recordOf(j, await this.#redis.get(keys(this.#options).cancelled(j.id!)), () => Job.fromId(this.#queue, j.id!)),
      ),
    );
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async cancel(id: string): Promise<JobRecord> {
    const before = await this.get(id);
    if (!before) throw notFound(id);
    if (before.status !== "queued" && before.status !== "running") return before;
    const k = keys(this.#options);
    await this.#redis.set(k.cancelled(id), new Date().toISOString(), "EX", 7 * 24 * 3600);
    await this.#redis.publish(k.channel, id);
    if (before.status === "running") {
      // the worker running it aborts the handler; the job then fails as cancelled
      for (let i = 0; i < 100; i++) {
        const now = await this.get(id);
        if (now && now.status !== "running") return now;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return (await this.get(id))!;
  }

  events(id: string, signal?: AbortSignal): AsyncIterable<JobEvent> {
    this.#listen();
    return this.#events.stream(id, () => this.get(id), signal);
  }

  /** One QueueEvents subscription for every listener of this client. */
  #listen(): void {
    if (this.#queueEvents) return;
    const qe = new QueueEvents(this.#options.name ?? DEFAULTS.name, {
      connection: (this.#eventsRedis = (this.#redis as unknown as { duplicate(): Redis }).duplicate()) as never,
      prefix: this.#options.prefix ?? DEFAULTS.prefix,
    });
    this.#queueEvents = qe;
    const status = async (jobId: string) => {
      const job = await this.get(jobId);
      if (job) this.#events.emit(jobId, { type: "status", job });
    };
    qe.on("progress", ({ jobId, data }) => {
      const event = (data as Snapshot | undefined)?.event;
      if (event) this.#events.emit(jobId, event);
    });
    for (const name of ["active", "completed", "failed", "waiting", "stalled"] as const) {
      qe.on(name, ({ jobId }: { jobId: string }) => void status(jobId));
    }
  }

  async close(): Promise<void> {
    await this.#queueEvents?.close();
    this.#eventsRedis?.disconnect();
    await this.#queue.close();
    this.#redis.disconnect();
  }
}

/**
 * Runs the queue's jobs in this process with `handlers` until closed (what `infuse worker` runs).
 * A job cancelled through any client is aborted here.
 */
export class RedisJobWorker {
  readonly #worker: Worker;
  readonly #subscriber: Redis;
  readonly #redis: Redis;

  readonly #workerRedis: Redis;

  private constructor(options: RedisWorkerOptions, redis: Redis, subscriber: Redis, workerRedis: Redis) {
    this.#workerRedis = workerRedis;
    const k = keys(options);
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#worker = new Worker(
      options.name ?? DEFAULTS.name,
      async (job, _token, signal) => {
        if (await this.#redis.get(k.cancelled(job.id!))) {
          throw await failWith(job, new InfuseError("cancelled", `job ${job.id} was cancelled`, { kind: "cancelled" }));
        }
        const spec = options.handlers[job.name as JobKind];
        if (!spec) {
          throw await failWith(
            job,
            new InfuseError("jobs.unknown_kind", `this worker has no handler for "${job.name}"`, { kind: "usage" }),
          );
        }
        return runHandler(job, spec.handler, signal ?? new AbortController().signal);
      },
      {
        connection: workerRedis as never,
        prefix: options.prefix ?? DEFAULTS.prefix,
        concurrency: options.concurrency ?? 1,
        maxStalledCount: options.maxStalled ?? DEFAULTS.maxStalled,
        ...(options.lockDuration !== undefined ? { lockDuration: options.lockDuration } : {}),
        ...(options.stalledInterval !== undefined ? { stalledInterval: options.stalledInterval } : {}),
        autorun: false,
      },
    );
    this.#subscriber.on("message", (_channel: string, id: string) => {
      this.#worker.cancelJob(id, "cancelled");
    });
  }

  static async start(options: RedisWorkerOptions): Promise<RedisJobWorker> {
    const redis = await reachableConnection(options.url);
    const w = new RedisJobWorker(options, redis, await connection(options.url), await connection(options.url));
    await w.#subscriber.subscribe(keys(options).channel);
    await w.#worker.waitUntilReady();
    void w.#worker.run();
    return w;
  }

  /** Called with each job as it starts and ends (for the worker's log lines). */
  on(event: "active" | "completed" | "failed", listener: (job: Job) => void): void {
    this.#worker.on(event, (job: Job | undefined) => job && listener(job));
  }

  /** Stops taking jobs and waits for running ones to end (`force`: abort them). */
  async close(force = false): Promise<void> {
    if (force) this.#worker.cancelAllJobs("the worker is stopping");
    await this.#worker.close(force);
    this.#subscriber.disconnect();
    this.#workerRedis.disconnect();
    this.#redis.disconnect();
  }
}

async function runHandler(job: Job, handler: JobHandler, signal: AbortSignal): Promise<unknown> {
  const snapshot: Snapshot = {};
  let pending = Promise.resolve();
  const send = (event: JobEvent) => {
    snapshot.event = event;
    const copy = structuredClone(snapshot);
    pending = pending.then(() => job.updateProgress(copy as object)).catch(() => {});
  };
  const context: JobContext = {
    signal,
    progress: (progress) => {
      snapshot.progress = progress;
      send({ type: "progress", progress });
    },
    metric: (step, metrics) => {
      snapshot.metrics = { ...snapshot.metrics, ...metrics, step };
      send({ type: "metric", step, metrics });
    },
    log: (message) => send({ type: "log", message }),
  };
  try {
    const result = await handler(job.data, context);
    await pending;
    return result;
  } catch (e) {
    await pending;
    const error =
      signal.aborted && !(isInfuseError(e) && e.kind === "cancelled")
        ? new InfuseError("cancelled", `job ${job.id} was cancelled`, { kind: "cancelled", cause: e })
        : e;
    throw await failWith(job, error, snapshot);
  }
}

/** Records the error (code, kind, hint) in the job's progress and returns what BullMQ should fail with. */
async function failWith(job: Job, error: unknown, snapshot: Snapshot = {}): Promise<Error> {
  const wire = errorToWire(error);
  delete wire.stack;
  await job.updateProgress({ ...snapshot, error: wire, event: undefined } as object).catch(() => {});
  return error instanceof Error ? error : new Error(String(error));
}

/** Resolves once Redis answers a PING; fails after `ms` (ioredis would otherwise retry for ever). */
/** A connection that has answered a ping; else `jobs.queue_unreachable` naming the URL. */
async function reachableConnection(url: string): Promise<Redis> {
  const redis = await connection(url);
  try {
    await reachable(redis);
  } catch (e) {
    redis.disconnect();
    throw unreachable(url, e);
  }
  return redis;
}

async function reachable(redis: Redis, ms = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function unreachable(url: string, cause: unknown): InfuseError {
  return new InfuseError(
    "jobs.queue_unreachable",
    `cannot reach the job queue at ${url} (${(cause as Error).message})`,
    {
      kind: "network",
      hint: "start Redis there, or fix --queue (redis://host:port)",
      cause,
    },
  );
}
