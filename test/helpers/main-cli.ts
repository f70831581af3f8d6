// The real CLI's main() in this process with `env` set (restored after), capturing what it writes:
// faster than a child process (runCli in cli.ts), for tests that run many commands.
import { main } from "../../src/cli/main.js";

export async function mainCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const out = process.stdout.write;
  const err = process.stderr.write;
  let stdout = "";
  let stderr = "";
  Object.assign(process.env, env);
  const capture = (append: (s: string) => void) =>
    ((chunk: string | Uint8Array) => (append(String(chunk)), true)) as typeof process.stdout.write;
  process.stdout.write = capture((s) => (stdout += s));
  process.stderr.write = capture((s) => (stderr += s));
  try {
    return { code: await main(["node", "infuse", ...args]), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
