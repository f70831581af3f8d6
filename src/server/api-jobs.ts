// /api/jobs (list, show, events as SSE, cancel, an eval job's HTML report) and the routes that start
// long work as jobs from uploads: /api/tune (a dataset + tune options) and /api/eval/retrieval (a
// BEIR corpus, queries and qrels + eval options). Paths in a job's input are always the server's
// own: the client names models by their served ids and sends files, never paths.
import path from "node:path";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import type { Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { fromWire, toWire } from "../core/wire.js";
import { renderHtmlReport } from "../eval/report-html.js";
import type { RetrievalReport } from "../eval/run-retrieval.js";
import type { JobEvent, JobKind, JobQueue, JobRecord } from "../jobs/types.js";
import type { ServerContext } from "./context.js";
import { httpError } from "./errors.js";
import { parseEndpointSpec } from "../rag/llm/endpoints.js";
import { filesOf, storeUploads } from "./uploads.js";

export function requireJobs(ctx: ServerContext): JobQueue {
  if (!ctx.jobs) throw httpError(503, "jobs_unavailable", "this server runs no job queue");
  return ctx.jobs;
}

/** A job record as the wire sends it: its error without the stack. */
export function jobWire(record: JobRecord): unknown {
  const { error, ...rest } = record;
  if (!error) return toWire(rest);
  const { stack: _stack, ...shown } = error;
  void _stack;
  return toWire({ ...rest, error: shown });
}

function eventWire(event: JobEvent): unknown {
  return event.type === "status" ? { type: "status", job: jobWire(event.job) } : toWire(event);
}

async function requireJob(jobs: JobQueue, id: string): Promise<JobRecord> {
  const job = await jobs.get(id);
  if (!job) throw httpError(404, "job_not_found", `no job ${id}`, { param: "id" });
  return job;
}

/** The `options` field of a multipart body: a JSON object in wire form, as library values. */
function formOptions(form: Record<string, unknown>): Record<string, unknown> {
  const raw = form["options"];
  if (raw === undefined) return {};
  if (typeof raw !== "string")
    throw httpError(400, "invalid_request", "options: a JSON object as text", { param: "options" });
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw httpError(400, "invalid_json", "options: not valid JSON", { param: "options" });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw httpError(400, "invalid_request", "options: a JSON object", { param: "options" });
  return fromWire(parsed) as Record<string, unknown>;
}

function serverSet(options: Record<string, unknown>, keys: string[]): void {
  for (const k of keys)
    if (options[k] !== undefined)
      throw httpError(400, "invalid_request", `options.${k}: set by the server`, {
        param: `options.${k}`,
        hint: "upload the files instead; the server chooses where they and the results go",
      });
}

/** A model the client names by a served id, as the local model reference it serves. */
function servedLocalModel(ctx: ServerContext, id: unknown, param: string): string {
  if (typeof id !== "string") throw httpError(400, "invalid_request", `${param}: a served model id`, { param });
  const served = ctx.models.find(id, ["chat"]);
  const endpoint = parseEndpointSpec(served.id);
  if (endpoint.provider !== "local" && endpoint.provider !== "engine")
    throw httpError(400, "invalid_request", `${param}: ${id} is not a local model`, { param });
  return endpoint.model;
}

async function submit(c: Context, jobs: JobQueue, kind: JobKind, input: unknown): Promise<Response> {
  const job = await jobs.submit(kind, input);
  return c.json(toWire({ jobId: job.id, job: jobWire(job) }), 202);
}

export function registerJobs(app: Hono, ctx: ServerContext): void {
  app.get("/api/jobs", async (c) => {
    const jobs = await requireJobs(ctx).list();
    return c.json({ jobs: jobs.map(jobWire) });
  });

  app.get("/api/jobs/:id", async (c) => c.json(jobWire(await requireJob(requireJobs(ctx), c.req.param("id")))));

  app.delete("/api/jobs/:id", async (c) => {
    const jobs = requireJobs(ctx);
    await requireJob(jobs, c.req.param("id"));
    return c.json(jobWire(await jobs.cancel(c.req.param("id"))));
  });

  app.get("/api/jobs/:id/events", async (c) => {
    const jobs = requireJobs(ctx);
    const id = c.req.param("id");
    await requireJob(jobs, id);
    return streamSSE(c, async (sse) => {
      const abort = new AbortController();
      sse.onAbort(() => abort.abort());
      for await (const event of jobs.events(id, abort.signal))
        await sse.writeSSE({ event: event.type, data: JSON.stringify(eventWire(event)) });
    });
  });

  app.get("/api/jobs/:id/report.html", async (c) => {
    const job = await requireJob(requireJobs(ctx), c.req.param("id"));
    if (job.kind !== "eval-retrieval" || job.status !== "done")
      throw httpError(404, "report_not_found", `job ${job.id} has no report (a finished eval-retrieval job has one)`, {
        param: "id",
      });
    c.header("content-disposition", `attachment; filename="retrieval-${job.id}.html"`);
    return c.html(renderHtmlReport(job.result as RetrievalReport));
  });

  app.get("/api/jobs/:id/files/:name", async (c) => {
    const job = await requireJob(requireJobs(ctx), c.req.param("id"));
    const result = job.result as { out?: unknown; files?: unknown } | undefined;
    const name = c.req.param("name");
    const files = Array.isArray(result?.files) ? (result.files as unknown[]) : [];
    // only a name the finished tune job listed, inside its own output folder
    const listed = files.find((f) => typeof f === "string" && path.basename(f) === name) as string | undefined;
    if (job.kind !== "tune" || job.status !== "done" || typeof result?.out !== "string" || listed === undefined)
      throw httpError(404, "file_not_found", `job ${job.id} has no file ${JSON.stringify(name)}`, {
        param: "name",
        hint: "a finished tune job lists its files in result.files",
      });
    const out = path.resolve(result.out);
    const file = path.resolve(out, path.basename(listed));
    if (path.dirname(file) !== out) throw httpError(404, "file_not_found", `job ${job.id} has no file ${name}`);
    const bytes = await readFile(file);
    c.header("content-disposition", `attachment; filename="${path.basename(file).replace(/"/g, "")}"`);
    return c.body(new Uint8Array(bytes), 200, { "content-type": "application/octet-stream" });
  });

  app.post("/api/tune", async (c) => {
    const jobs = requireJobs(ctx);
    const form = await c.req.parseBody({ all: true });
    const options = formOptions(form);
    serverSet(options, ["data", "valData", "out"]);
    const stored = await storeUploads(filesOf(form, "dataset"), "dataset", ctx.uploadDir, ctx.limits);
    const out = path.join(ctx.config.dataDir, "runs", `serve-${randomUUID()}`);
    return submit(c, jobs, "tune", {
      ...options,
      model: servedLocalModel(ctx, options["model"], "options.model"),
      data: stored.files.map((f) => ({ path: path.join(stored.dir, f.name) })),
      out,
    });
  });

  // a stopped (cancelled, failed) or finished tune continues from its last checkpoint as a new job
  // in the same run folder; `max_steps` or `epochs` may grow to train a finished run further
  app.post("/api/jobs/:id/resume", async (c) => {
    const jobs = requireJobs(ctx);
    const id = c.req.param("id");
    const job = await requireJob(jobs, id);
    if (job.kind !== "tune")
      throw httpError(400, "invalid_request", `job ${id} is a ${job.kind} job; only tune jobs resume`);
    if (job.status === "queued" || job.status === "running")
      throw httpError(409, "job_running", `job ${id} is ${job.status}: cancel it first or wait for it`);
    const body = (fromWire(await c.req.json().catch(() => ({}))) ?? {}) as Record<string, unknown>;
    const extend: Record<string, unknown> = {};
    for (const key of ["maxSteps", "epochs"] as const) {
      if (body[key] === undefined) continue;
      if (!Number.isInteger(body[key]) || (body[key] as number) < 1)
        throw httpError(400, "invalid_request", `${key === "maxSteps" ? "max_steps" : key}: a positive integer`, {
          param: key === "maxSteps" ? "max_steps" : key,
        });
      extend[key] = body[key];
    }
    const { overwrite: _overwrite, ...input } = (await jobs.input(id)) as Record<string, unknown>;
    return submit(c, jobs, "tune", { ...input, ...extend, resume: true });
  });

  app.post("/api/eval/retrieval", async (c) => {
    const jobs = requireJobs(ctx);
    const form = await c.req.parseBody({ all: true });
    const options = formOptions(form);
    serverSet(options, ["beir", "split"]);
    const dir = path.join(ctx.uploadDir, randomUUID());
    await mkdir(path.join(dir, "qrels"), { recursive: true });
    for (const [field, name] of [
      ["corpus", "corpus.jsonl"],
      ["queries", "queries.jsonl"],
      ["qrels", "qrels/test.tsv"],
    ] as const) {
      const files = filesOf(form, field);
      if (files.length !== 1) throw httpError(400, "invalid_request", `${field}: exactly one file`, { param: field });
      if (files[0]!.size > ctx.limits.maxFileBytes)
        throw httpError(413, "file_too_large", `${field}: over limits.maxFileBytes`, { param: field });
      await writeFile(path.join(dir, name), new Uint8Array(await files[0]!.arrayBuffer()));
    }
    if (options["embedder"] !== undefined) {
      if (typeof options["embedder"] !== "string")
        throw httpError(400, "invalid_request", "options.embedder: a served embedder id", {
          param: "options.embedder",
        });
      ctx.models.find(options["embedder"], ["embedding"]);
    }
    if (options["llm"] !== undefined) {
      if (typeof options["llm"] !== "string")
        throw httpError(400, "invalid_request", "options.llm: a served model id", { param: "options.llm" });
      ctx.models.find(options["llm"], ["chat"]);
    }
    return submit(c, jobs, "eval-retrieval", { recipes: ["bm25"], ...options, beir: dir, split: "test" });
  });
}
