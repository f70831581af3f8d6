// The in-process job queue with real handlers: a tiny ingest (hash embedder, LanceDB in a temp
// folder), a short LoRA tune of stories260K streaming its metrics, the concurrency limit, cancelling
// queued and running jobs, several listeners, and a restart that lists earlier jobs.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { jobHandlers, type JobEnv } from "../../src/jobs/handlers.js";
import { LocalJobQueue } from "../../src/jobs/local-queue.js";
import type { JobEvent, JobRecord } from "../../src/jobs/types.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { fixture } from "../helpers/fixtures.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "../train/helpers.js";

const queues: LocalJobQueue[] = [];
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.close()));
});

function setup(): { dir: string; env: JobEnv; docs: string } {
  const dir = tempDir("infuse-jobs-");
  const docs = path.join(dir, "docs");
  mkdirSync(docs);
  for (let i = 0; i < 4; i++) writeFileSync(path.join(docs, `doc${i}.md`), `# Doc ${i}\n\nThe number ${i} is here.`);
  return { dir, env: { config: offlineConfig(dir) }, docs };
}

async function open(env: JobEnv, extra: { concurrency?: number; file?: string } = {}): Promise<LocalJobQueue> {
  const q = await LocalJobQueue.open({ handlers: jobHandlers(env), ...extra });
  queues.push(q);
  return q;
}

async function collect(events: AsyncIterable<JobEvent>): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

function finalStatus(events: JobEvent[]): JobRecord {
  const last = events.at(-1)!;
  if (last.type !== "status") throw new Error(`last event is ${last.type}`);
  return last.job;
}

describe("LocalJobQueue", () => {
  it("runs a real ingest job; two listeners see the same run; a finished job replays its status", async () => {
    const { env, docs } = setup();
    const q = await open(env);
    const job = await q.submit("ingest", { collection: "notes", path: docs, settings: { embedderSpec: "hash" } });
    expect(job.status).toBe("queued");
    const [a, b] = await Promise.all([collect(q.events(job.id)), collect(q.events(job.id))]);
    expect(finalStatus(a)).toMatchObject({ status: "done", attempts: 1 });
    expect(finalStatus(b).status).toBe("done");
    expect(a.some((e) => e.type === "progress")).toBe(true);
    const done = (await q.get(job.id))!;
    expect(done.result).toMatchObject({ collection: "notes", chunksTotal: 4 });
    expect((done.result as { added: string[] }).added.sort()).toEqual(["doc0.md", "doc1.md", "doc2.md", "doc3.md"]);
    const replay = await collect(q.events(job.id));
    expect(replay).toEqual([{ type: "status", job: done }]);
    const store = await new LanceDbStoreProvider(env.config.dataDir).open("notes");
    expect(Object.keys(store.manifest.units).sort()).toEqual(["doc0.md", "doc1.md", "doc2.md", "doc3.md"]);
    store.close();
  });

  it("ingests per-file jobs (root + files) with the keys a folder ingest gives, skipping them the second time", async () => {
    const { env, docs } = setup();
    const q = await open(env, { concurrency: 2 });
    const jobs = await Promise.all(
      ["doc0.md", "doc1.md", "doc2.md", "doc3.md"].map((f) =>
        q.submit("ingest", { collection: "c", root: docs, files: [f], settings: { embedderSpec: "hash" } }),
      ),
    );
    const finals = await Promise.all(jobs.map(async (j) => finalStatus(await collect(q.events(j.id)))));
    // two jobs at once on one LanceDB collection: the second waits for the writer lock instead of failing
    expect(finals.map((f) => f.status)).toEqual(["done", "done", "done", "done"]);
    const again = await q.submit("ingest", { collection: "c", path: docs });
    const result = finalStatus(await collect(q.events(again.id))).result as { unchanged: number; added: string[] };
    expect(result).toMatchObject({ unchanged: 4, added: [] });
  });

  it("refuses a bad input naming the field, and an unknown kind", async () => {
    const { env } = setup();
    const q = await open(env);
    await expect(q.submit("ingest", { collection: "", path: "x" })).rejects.toMatchObject({
      code: "jobs.bad_input",
      message: expect.stringContaining("collection"),
    });
    await expect(q.submit("ingest", { collection: "c" })).rejects.toMatchObject({ code: "jobs.bad_input" });
    await expect(q.submit("nope" as "ingest", {})).rejects.toMatchObject({ code: "jobs.unknown_kind" });
  });

  it("runs a short LoRA tune streaming loss, eval_loss and tokens_per_second; a queued job waits, then is cancelled", async () => {
    const { dir, env } = setup();
    const q = await open(env, { concurrency: 1 });
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(24));
    writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
    const input = {
      model: fixture("models/stories260K-gguf/stories260K.gguf"),
      data: [{ path: data }],
      out: path.join(dir, "run"),
      template: path.join(dir, "qa.txt"),
      maxSteps: 4,
      batchSize: 4,
      evalEvery: 2,
      seed: 1,
    };
    const tuneJob = await q.submit("tune", input);
    const waiting = await q.submit("tune", { ...input, out: path.join(dir, "run2") });
    const events = collect(q.events(tuneJob.id));
    expect((await q.get(waiting.id))!.status).toBe("queued");
    expect((await q.cancel(waiting.id)).status).toBe("cancelled");
    const seen = await events;
    const final = finalStatus(seen);
    expect(final.status).toBe("done");
    const metrics = seen.flatMap((e) => (e.type === "metric" ? [e] : []));
    expect(metrics.map((m) => m.step)).toContain(4);
    expect(metrics.some((m) => m.metrics.loss! > 0 && m.metrics.tokens_per_second! > 0)).toBe(true);
    expect(metrics.some((m) => m.metrics.eval_loss! > 0)).toBe(true);
    expect(final.metrics).toMatchObject({ step: 4 });
    expect(final.result).toMatchObject({ steps: 4, out: input.out });
    expect((await q.get(waiting.id))!.attempts).toBe(0);
  }, 60_000);

  it("cancels a running job through its AbortSignal", async () => {
    const { dir, env } = setup();
    const q = await open(env);
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(24));
    const job = await q.submit("tune", {
      model: fixture("models/stories260K-gguf/stories260K.gguf"),
      data: [{ path: data }],
      out: path.join(dir, "run"),
      maxSteps: 10_000,
      batchSize: 2,
    });
    for await (const e of q.events(job.id)) {
      if (e.type === "metric") break; // training has started
    }
    expect((await q.cancel(job.id)).status).toBe("cancelled");
  }, 60_000);

  it("keeps jobs in a file: a restart lists them, a running one becomes failed jobs.interrupted", async () => {
    const { dir, env, docs } = setup();
    const file = path.join(dir, "jobs.json");
    const first = await open(env, { file });
    const done = await first.submit("ingest", { collection: "c", path: docs, settings: { embedderSpec: "hash" } });
    await collect(first.events(done.id));
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(24));
    const long = await first.submit("tune", {
      model: fixture("models/stories260K-gguf/stories260K.gguf"),
      data: [{ path: data }],
      out: path.join(dir, "run"),
      maxSteps: 10_000,
      batchSize: 2,
    });
    for await (const e of first.events(long.id)) if (e.type === "metric") break;
    // a process that stops while the job runs: the file still says "running"
    const snapshot = path.join(dir, "snapshot.json");
    const { copyFileSync } = await import("node:fs");
    copyFileSync(file, snapshot);
    await first.close();
    const closed = (await first.get(long.id))!;
    expect(closed).toMatchObject({ status: "failed", error: { code: "jobs.interrupted" } });

    const second = await open(env, { file: snapshot });
    const listed = await second.list();
    expect(listed.map((j) => j.id)).toEqual([done.id, long.id]);
    expect(listed[0]).toMatchObject({ status: "done", result: { collection: "c" } });
    expect(listed[1]).toMatchObject({ status: "failed", error: { code: "jobs.interrupted" } });
  }, 60_000);
});
