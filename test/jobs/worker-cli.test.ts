// `infuse worker` and `ingest --queue` refuse a queue that is not a redis:// URL (usage, exit 2) and
// name an unreachable one (network, exit 5) instead of waiting for ever.
import { describe, expect, it } from "vitest";
import { redisDriverAvailable } from "../../src/jobs/redis-queue.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../train/helpers.js";

const driver = await redisDriverAvailable();

describe("infuse worker / ingest --queue", () => {
  it("refuses a --queue that is not a redis:// URL", async () => {
    const home = tempDir("infuse-worker-");
    const r = await runCli(["worker", "--queue", "http://127.0.0.1:6379", "--json"], { env: { INFUSE_HOME: home } });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ error: "cli.bad_queue" });
  }, 30_000);

  it.skipIf(!driver)(
    "names a Redis server that does not answer",
    async () => {
      const home = tempDir("infuse-worker-");
      const r = await runCli(["ingest", home, "--queue", "redis://127.0.0.1:9", "--json"], {
        env: { INFUSE_HOME: home },
      });
      expect(r.code).toBe(5);
      expect(JSON.parse(r.stdout.trim())).toMatchObject({ error: "jobs.queue_unreachable", kind: "network" });
    },
    30_000,
  );
});
