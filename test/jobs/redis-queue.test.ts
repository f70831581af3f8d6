// The Redis-backed queue on a real Redis (serviceUrl): a job run by an in-process worker with its
// events, cancellation, and `ingest --queue`'s per-file jobs with a worker process killed mid-job:
// the job is retried by another worker process and the collection ends with every file exactly once.
import type { ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { jobHandlers, type JobEnv } from "../../src/jobs/handlers.js";
import { ingestThroughQueue } from "../../src/jobs/ingest-jobs.js";
import { redisDriverAvailable, RedisJobQueue, RedisJobWorker } from "../../src/jobs/redis-queue.js";
import type { JobEvent } from "../../src/jobs/types.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import { resolveEmbedder } from "../../src/rag/pipeline/models.js";
import { lance } from "../../src/rag/store/lancedb.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { serviceUrl } from "../helpers/services.js";
import { tempDir } from "../train/helpers.js";

const driver = await redisDriverAvailable();
if (!driver) {
  const reason = "the ioredis driver is not installed (BullMQ 6 takes it as an optional peer): npm install ioredis";
  if (process.env.CI === "true") throw new Error(`CI needs ${reason}`);
  console.warn(`skipping Redis queue tests: ${reason}`);
}
const url = driver ? serviceUrl("redis") : undefined;
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

let n = 0;
function prefix(): string {
  return `infuse-test-${process.pid}-${Date.now()}-${n++}`;
}

function folder(files: number, bigMb = 0): { dir: string; docs: string; env: JobEnv } {
  const dir = tempDir("infuse-redis-");
  const docs = path.join(dir, "docs");
  mkdirSync(docs);
  for (let i = 0; i < files; i++) writeFileSync(path.join(docs, `note${i}.md`), `# Note ${i}\n\nHarbour ${i} is deep.`);
  if (bigMb > 0) {
    const para = (i: number) => `## Part ${i}\n\nThe pilot boards vessel ${i} at the outer buoy on the flood tide.\n\n`;
    const parts: string[] = [];
    for (let i = 0, size = 0; size < bigMb * 2 ** 20; i++) size += (parts[parts.length] = para(i)).length;
    writeFileSync(path.join(docs, "big.md"), parts.join(""));
  }
  return { dir, docs, env: { config: offlineConfig(dir) } };
}

describe.skipIf(url === undefined)("RedisJobQueue", () => {
  it("runs an ingest job on a worker, streams its events, and cancels a job that is queued", async () => {
    const { docs, env } = folder(3);
    const p = prefix();
    const queue = await RedisJobQueue.open({ url: url!, handlers: jobHandlers(env), prefix: p });
    cleanup.push(() => queue.close());
    const waiting = await queue.submit("ingest", { collection: "c", path: docs, settings: { embedderSpec: "hash" } });
    expect((await queue.cancel(waiting.id)).status).toBe("cancelled");
    const job = await queue.submit("ingest", { collection: "c", path: docs, settings: { embedderSpec: "hash" } });
    const events: JobEvent[] = [];
    const seen = (async () => {
      for await (const e of queue.events(job.id)) events.push(e);
    })();
    const worker = await RedisJobWorker.start({ url: url!, handlers: jobHandlers(env), prefix: p });
    cleanup.push(() => worker.close());
    await seen;
    const final = events.at(-1)!;
    expect(final).toMatchObject({ type: "status", job: { status: "done", attempts: 1 } });
    expect(events.some((e) => e.type === "progress")).toBe(true);
    const record = (await queue.get(job.id))!;
    expect(record.result).toMatchObject({ collection: "c", chunksTotal: 3 });
    expect((await queue.get(waiting.id))!.status).toBe("cancelled");
    expect((await queue.list()).map((j) => j.id)).toEqual([waiting.id, job.id]);
    // a bad input is refused before it is queued, naming the field
    await expect(queue.submit("ingest", { collection: "c" })).rejects.toMatchObject({ code: "jobs.bad_input" });
  }, 30_000);

  it("retries the job of a worker killed mid-job on another worker; no file is lost or doubled", async () => {
    const { dir, docs, env } = folder(6, 0.3);
    const p = prefix();
    const home = path.join(dir, "home");
    mkdirSync(home);
    writeFileSync(
      path.join(home, "infuse.config.json"),
      JSON.stringify({ dataDir: env.config.dataDir, cacheDir: env.config.cacheDir }),
    );
    const workerArgs = ["worker", "--queue", url!, "--prefix", p, "--lock-ms", "1500", "--stalled-ms", "500"];
    const startWorker = () => {
      const w: { child?: ChildProcess; done: Promise<CliResult> } = {} as never;
      w.done = runCli(["-c", path.join(home, "infuse.config.json"), ...workerArgs], {
        onSpawn: (c) => (w.child = c),
      });
      cleanup.push(async () => {
        w.child?.kill("SIGKILL");
        await w.done;
      });
      return w;
    };
    const queue = await RedisJobQueue.open({ url: url!, handlers: jobHandlers(env), prefix: p });
    cleanup.push(() => queue.close());
    const first = startWorker();
    let killed = false;
    const report = ingestThroughQueue(queue, "shared", docs, { embedderSpec: "hash" });
    // files are queued in path order: big.md first; kill the first worker while it runs that job
    const bigJob = async () => {
      for (;;) {
        const running = (await queue.list()).find((j) => j.status === "running");
        if (running) return running.id;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const id = await bigJob();
    first.child!.kill("SIGKILL");
    killed = true;
    await first.done;
    startWorker();
    const result = await report;
    expect(killed).toBe(true);
    expect((await queue.get(id))!.attempts).toBeGreaterThanOrEqual(2);
    expect(result.jobs).toMatchObject({ submitted: 8, done: 8, failed: 0 });
    expect(result.jobs.retried).toBeGreaterThanOrEqual(1);

    // the same folder ingested in one process is the reference: same units, same chunk count
    const refDir = path.join(dir, "ref");
    const embedder = await resolveEmbedder("hash", { config: env.config });
    const ref = await ingestPath("ref", docs, { dataDir: refDir, embedder, embedderSpec: "hash" });
    const store = await new LanceDbStoreProvider(env.config.dataDir).open("shared");
    expect(Object.keys(store.manifest.units).sort()).toEqual([...ref.added].sort());
    expect(store.manifest.chunks).toBe(ref.chunksTotal);
    const table = await (await lance()).connect(path.join(env.config.dataDir, "collections", "shared", "lance"));
    const rows = (await (await table.openTable("chunks")).query().select(["id"]).toArray()) as { id: string }[];
    expect(new Set(rows.map((r) => r.id)).size).toBe(ref.chunksTotal);
    store.close();
  }, 150_000);
});
