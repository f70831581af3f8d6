// The real CLI's main() in this process with INFUSE_HOME set, capturing what it writes: faster
// than a child process, for tests that run many commands.
import { main } from "../../../src/cli/main.js";

export async function mainCli(
  home: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = { home: process.env["INFUSE_HOME"], out: process.stdout.write, err: process.stderr.write };
  let stdout = "";
  let stderr = "";
  process.env["INFUSE_HOME"] = home;
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(["node", "infuse", ...args]), stdout, stderr };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    if (saved.home === undefined) delete process.env["INFUSE_HOME"];
    else process.env["INFUSE_HOME"] = saved.home;
  }
}
