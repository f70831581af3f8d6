// The real servers some tests need (PostgreSQL + pgvector, Redis), started on 127.0.0.1 by
// .ci/services.sh. Outside CI a missing server skips its tests with a printed reason; in CI
// (CI=true) a missing server is a failure, so a broken install step cannot pass as green.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export type ServiceName = "postgres" | "redis";

const script = fileURLToPath(new URL("../../.ci/services.sh", import.meta.url));
const envKey: Record<ServiceName, string> = {
  postgres: "INFUSE_TEST_POSTGRES_URL",
  redis: "INFUSE_TEST_REDIS_URL",
};
let started: Record<string, string> | undefined;
let startError: string | undefined;

function startServices(): Record<string, string> {
  if (started !== undefined) return started;
  started = {};
  try {
    const out = execFileSync("bash", [script, "start"], { encoding: "utf8", timeout: 120_000 });
    for (const line of out.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) started[line.slice(0, eq)] = line.slice(eq + 1).trim();
    }
  } catch (error) {
    startError = (error as Error).message.split("\n")[0];
  }
  return started;
}

/** The server's URL, or undefined (with the reason printed) when it cannot be had outside CI. */
export function serviceUrl(name: ServiceName): string | undefined {
  const key = envKey[name];
  const url = process.env[key] ?? startServices()[key];
  if (url !== undefined) return url;
  const reason = `${name} is not available (${startError ?? "not installed"}); run \`bash .ci/services.sh install\` as root`;
  if (process.env.CI === "true") throw new Error(`CI needs ${name}: ${reason}`);
  console.warn(`skipping ${name} tests: ${reason}`);
  return undefined;
}
