// Queue workers writing a Postgres collection, all real: Redis and Postgres from serviceUrl, and
// the CLI in child processes. `infuse ingest DIR --queue redis://… --store postgres://…` splits the
// folder into per-file jobs; two `infuse worker` processes run them, the first killed (SIGKILL)
// mid-job. The job is retried by the second, and the collection equals a one-process ingest of
// the folder into the same database: same files, same chunk count, no chunk twice, no gaps.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { jobHandlers } from "../../src/jobs/handlers.js";
import { redisDriverAvailable, RedisJobQueue } from "../../src/jobs/redis-queue.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import { resolveEmbedder } from "../../src/rag/pipeline/models.js";
import { PostgresStoreProvider } from "../../src/rag/store/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { serviceUrl } from "../helpers/services.js";
import { tempDir } from "../train/helpers.js";

const driver = await redisDriverAvailable();
const redis = driver ? serviceUrl("redis") : undefined;
const postgres = serviceUrl("postgres");
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

describe.skipIf(redis === undefined || postgres === undefined)("queue workers on a Postgres collection", () => {
  it("a worker killed mid-job: its job is retried by the other, the collection equals one process's ingest", async () => {
    // a Redis database of its own: `ingest --queue` uses the default key prefix
    const queueUrl = `${redis!.replace(/\/\d*$/, "")}/${1 + (process.pid % 15)}`;
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const store = new URL(postgres!);
    store.searchParams.set("schema", schema);
    cleanup.push(async () => {
      const c = new pg.Client({ connectionString: postgres! });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    });

    const dir = tempDir("infuse-queue-pg-");
    const docs = path.join(dir, "docs");
    mkdirSync(docs);
    for (let i = 0; i < 6; i++) writeFileSync(path.join(docs, `note${i}.md`), `# Note ${i}\n\nHarbour ${i} is deep.`);
    // big.md comes first in path order: its job is the one running when the first worker dies
    const parts: string[] = [];
    for (let i = 0, size = 0; size < 0.3 * 2 ** 20; i++)
      size += (parts[parts.length] = `## Part ${i}\n\nThe pilot boards vessel ${i} at the outer buoy.\n\n`).length;
    writeFileSync(path.join(docs, "big.md"), parts.join(""));
    const config = offlineConfig(dir);
    const configFile = path.join(dir, "infuse.config.json");
    writeFileSync(configFile, JSON.stringify({ dataDir: config.dataDir, cacheDir: config.cacheDir }));

    const queue = await RedisJobQueue.open({ url: queueUrl, handlers: jobHandlers({ config }) });
    cleanup.push(() => queue.close());
    const startWorker = () => {
      const w: { child?: ChildProcess; done: Promise<CliResult> } = {} as never;
      const args = ["worker", "--queue", queueUrl, "--lock-ms", "1500", "--stalled-ms", "500"];
      w.done = runCli(["-c", configFile, "--store", store.toString(), ...args], { onSpawn: (c) => (w.child = c) });
      cleanup.push(async () => {
        w.child?.kill("SIGKILL");
        await w.done;
      });
      return w;
    };
    const first = startWorker();
    const submit = runCli([
      "-c",
      configFile,
      "--store",
      store.toString(),
      "ingest",
      docs,
      "--collection",
      "shared",
      "--queue",
      queueUrl,
      "--embedder",
      "hash",
      "--json",
    ]);
    let running: string | undefined;
    while (!running) {
      running = (await queue.list()).find((j) => j.status === "running")?.id;
      if (!running) await new Promise((r) => setTimeout(r, 50));
    }
    first.child!.kill("SIGKILL");
    await first.done;
    startWorker();
    const submitted = await submit;
    expect(submitted.code, submitted.stderr).toBe(0);
    const report = JSON.parse(submitted.stdout) as { jobs: Record<string, number> };
    expect(report.jobs).toMatchObject({ submitted: 8, done: 8, failed: 0 });
    expect(report.jobs["retried"]).toBeGreaterThanOrEqual(1);
    expect((await queue.get(running))!.attempts).toBeGreaterThanOrEqual(2);

    // the reference: the same folder ingested by one process into the same database
    const provider = new PostgresStoreProvider(store.toString());
    cleanup.push(() => provider.close());
    const embedder = await resolveEmbedder("hash", { config });
    const ref = await ingestPath("ref", docs, { dataDir: dir, store: provider, embedder, embedderSpec: "hash" });
    const m = await provider.requireManifest("shared");
    expect(Object.keys(m.units).sort()).toEqual([...ref.added].sort());
    expect(m.chunks).toBe(ref.chunksTotal);
    const shared = await provider.open("shared");
    const reference = await provider.open("ref");
    for (const key of Object.keys(m.units)) {
      const texts = async (s: typeof shared) => (await s.chunksOf(key)).map((c) => c.text);
      expect(await texts(shared)).toEqual(await texts(reference));
    }
    // the rows agree: each live chunk once, every file present
    const c = new pg.Client({ connectionString: postgres! });
    await c.connect();
    const rows = await c
      .query<{ rows: string; distinct: string; units: string }>(
        `SELECT count(*) AS rows, count(DISTINCT (unit_key, chunk_id)) AS distinct, count(DISTINCT unit_key) AS units
         FROM ${schema}.chunks_1 WHERE rev_removed IS NULL`,
      )
      .finally(() => c.end());
    expect(rows.rows[0]).toEqual({ rows: String(ref.chunksTotal), distinct: String(ref.chunksTotal), units: "7" });
  }, 120_000);
});
