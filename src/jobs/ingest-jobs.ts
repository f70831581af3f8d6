// `ingest DIR --queue`: a folder split into per-file ingest jobs on any JobQueue, their progress
// aggregated (files done of files queued), then one sync job that removes files no longer in the
// folder, and one IngestReport summed over all of them. Per-file jobs are idempotent (a file whose
// content hash is committed is skipped), so a job retried after its worker died adds nothing twice.
import path from "node:path";
import { cancelledError } from "../core/errors.js";
import type { TaskOptions } from "../core/progress.js";
import { walkFiles } from "../rag/load/index.js";
import type { IngestReport } from "../rag/pipeline/ingest.js";
import type { IngestSettings } from "../rag/pipeline/ingest-options.js";
import type { IngestJob } from "./handlers.js";
import { isFinished } from "./job-events.js";
import type { JobQueue, JobRecord } from "./types.js";

export interface QueuedIngestReport extends IngestReport {
  /** Jobs submitted (one per file, then the sync job) and how they ended. */
  jobs: { submitted: number; done: number; failed: number; cancelled: number; retried: number };
}

/** Waits for a job to finish, from its event stream. */
export async function waitForJob(queue: JobQueue, id: string, signal?: AbortSignal): Promise<JobRecord> {
  let last: JobRecord | undefined;
  for await (const e of queue.events(id, signal)) if (e.type === "status") last = e.job;
  if (signal?.aborted) throw cancelledError("waiting for the queued ingest", signal.reason);
  if (!last || !isFinished(last)) last = await queue.get(id);
  return last!;
}

function emptyReport(collection: string): IngestReport {
  return {
    collection,
    added: [],
    updated: [],
    removed: [],
    unchanged: 0,
    chunksAdded: 0,
    chunksTotal: 0,
    embedded: 0,
    cached: 0,
    batches: 0,
    failed: [],
    skipped: [],
    duplicates: [],
    warnings: [],
    seconds: 0,
  };
}

function add(sum: IngestReport, r: IngestReport): void {
  sum.added.push(...r.added);
  sum.updated.push(...r.updated);
  sum.removed.push(...r.removed);
  sum.unchanged += r.unchanged;
  sum.chunksAdded += r.chunksAdded;
  sum.embedded += r.embedded;
  sum.cached += r.cached;
  sum.batches += r.batches;
  sum.failed.push(...r.failed);
  sum.skipped.push(...r.skipped);
  sum.duplicates.push(...r.duplicates);
  sum.warnings.push(...r.warnings);
}

/**
 * Queues one ingest job per file of `target` (walked with `settings.include`/`exclude`), waits for
 * them, then syncs the folder (removing files it no longer holds) with one more job. On abort the
 * jobs not yet finished are cancelled.
 */
export async function ingestThroughQueue(
  queue: JobQueue,
  collection: string,
  target: string,
  settings: IngestSettings,
  options: TaskOptions = {},
): Promise<QueuedIngestReport> {
  const started = performance.now();
  const { include, exclude, ...jobSettings } = settings;
  const root = path.resolve(target);
  const files: string[] = [];
  for await (const f of walkFiles(root, {
    ...(include ? { include } : {}),
    ...(exclude ? { exclude } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  }))
    files.push(f.source);
  // a single file's key is its name, relative to its folder
  const base = files.length === 1 && files[0] === path.basename(root) ? path.dirname(root) : root;
  const submitted: JobRecord[] = [];
  for (const file of files) {
    const job: IngestJob = { collection, root: base, files: [file], settings: jobSettings };
    submitted.push(await queue.submit("ingest", job));
  }
  const sum = emptyReport(collection);
  const jobs = { submitted: submitted.length, done: 0, failed: 0, cancelled: 0, retried: 0 };
  let finished = 0;
  const progress = (note?: string) =>
    options.onProgress?.({
      task: "queued ingest",
      done: finished,
      total: submitted.length,
      unit: "files",
      ...(note ? { note } : {}),
    });
  progress();
  const tally = (job: JobRecord, source: string) => {
    finished++;
    if (job.attempts > 1) jobs.retried++;
    if (job.status === "done") {
      jobs.done++;
      add(sum, job.result as IngestReport);
    } else if (job.status === "cancelled") jobs.cancelled++;
    else {
      jobs.failed++;
      sum.failed.push({ source, reason: job.error?.message ?? job.status });
    }
    progress(source);
  };
  try {
    await Promise.all(
      submitted.map(async (job, i) => tally(await waitForJob(queue, job.id, options.signal), files[i]!)),
    );
    // every file is in: the sync job removes what the folder no longer holds (and finds the rest unchanged)
    const sync = await queue.submit("ingest", { collection, path: target, settings } satisfies IngestJob);
    jobs.submitted++;
    const last = await waitForJob(queue, sync.id, options.signal);
    if (last.status === "done") {
      jobs.done++;
      const r = last.result as IngestReport;
      sum.removed.push(...r.removed);
      sum.added.push(...r.added);
      sum.updated.push(...r.updated);
      sum.chunksAdded += r.chunksAdded;
      sum.chunksTotal = r.chunksTotal;
      sum.collection = r.collection;
    } else {
      jobs[last.status === "cancelled" ? "cancelled" : "failed"]++;
      sum.failed.push({ source: target, reason: last.error?.message ?? last.status });
    }
  } catch (e) {
    if (options.signal?.aborted) {
      await Promise.allSettled(submitted.map((j) => queue.cancel(j.id)));
    }
    throw e;
  }
  return { ...sum, seconds: (performance.now() - started) / 1000, jobs };
}
