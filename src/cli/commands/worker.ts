// `infuse worker --queue redis://HOST:PORT`: runs jobs (ingest, tune, evaluation) from a Redis-backed
// queue with this machine's config (data folder, store, hub) until Ctrl-C. Start one per machine (or
// several); a worker that dies leaves its job to another once its lock expires.
import { InfuseError } from "../../core/errors.js";
import { jobHandlers } from "../../jobs/handlers.js";
import { RedisJobWorker } from "../../jobs/redis-queue.js";
import type { RegisterCommand } from "../runtime.js";

interface WorkerFlags {
  queue: string;
  concurrency?: string;
  queueName?: string;
  prefix?: string;
  lockMs?: string;
  stalledMs?: string;
}

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new InfuseError("cli.bad_flag", `${flag} ${value}: not a positive integer`, {
      kind: "usage",
      hint: `set ${flag} to a whole number ≥ 1`,
    });
  }
  return n;
}

/** `--queue` must be a redis:// URL (the one queue backend that spans machines). */
export function redisUrl(value: string): string {
  if (!/^rediss?:\/\//.test(value)) {
    throw new InfuseError("cli.bad_queue", `--queue ${value}: not a redis:// URL`, {
      kind: "usage",
      hint: "pass the Redis server, e.g. --queue redis://127.0.0.1:6379",
    });
  }
  return value;
}

export const registerWorker: RegisterCommand = (program, run) => {
  program
    .command("worker")
    .description("run jobs (ingest, tune, evaluation) from a Redis-backed queue until stopped")
    .requiredOption("--queue <url>", "the queue's Redis server (redis://host:port)")
    .option("--concurrency <n>", "jobs run at once (1)")
    .option("--queue-name <name>", "the queue's name (infuse-jobs)")
    .option("--prefix <p>", "key prefix in Redis (infuse)")
    .option(
      "--lock-ms <ms>",
      "how long a job's lock lasts unless renewed; a dead worker's job moves on after it (30000)",
    )
    .option("--stalled-ms <ms>", "how often workers look for jobs of dead workers (30000)")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse worker --queue redis://10.0.0.5:6379\n" +
        "  infuse worker --queue redis://10.0.0.5:6379 --concurrency 2\n" +
        "\nEvery worker uses its own config file (infuse.config.json): its store (Postgres for workers on\n" +
        "several machines), data folder and models. Jobs come from `infuse ingest DIR --queue URL` and the\n" +
        "server's /api/jobs. Ctrl-C finishes the running jobs; a second Ctrl-C stops at once.",
    )
    .action(
      run(async (rt, flags: WorkerFlags) => {
        const config = await rt.config();
        const url = redisUrl(flags.queue);
        const lockDuration = positive(flags.lockMs, "--lock-ms");
        const stalledInterval = positive(flags.stalledMs, "--stalled-ms");
        const concurrency = positive(flags.concurrency, "--concurrency");
        const worker = await RedisJobWorker.start({
          url,
          handlers: jobHandlers({ config }),
          ...(flags.queueName !== undefined ? { name: flags.queueName } : {}),
          ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}),
          ...(concurrency !== undefined ? { concurrency } : {}),
          ...(lockDuration !== undefined ? { lockDuration } : {}),
          ...(stalledInterval !== undefined ? { stalledInterval } : {}),
        });
        worker.on("active", (job) => rt.out.info(`started ${job.name} job ${job.id}`));
        worker.on("completed", (job) => rt.out.info(`finished ${job.name} job ${job.id}`));
        worker.on("failed", (job) => rt.out.warn(`${job.name} job ${job.id} failed: ${job.failedReason}`));
        rt.out.info(`worker ${process.pid} waiting for jobs on ${url.replace(/\/\/[^@/]*@/, "//***@")}`);
        await new Promise<void>((resolve) => {
          if (rt.signal.aborted) resolve();
          else rt.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        await worker.close();
        rt.out.info("worker stopped");
      }),
    );
};
