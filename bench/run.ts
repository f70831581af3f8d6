// `npm run bench -- NAME [args]`: runs bench/NAME.ts, which prints one JSON line per figure.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "emit.ts"].includes(f))
  .map((f) => f.slice(0, -3));

if (!name || name === "--help" || !available.includes(name)) {
  process.stderr.write(
    `${name && name !== "--help" ? `unknown benchmark "${name}"\n` : ""}usage: npm run bench -- NAME [args]\n` +
      `benchmarks: ${available.join(", ") || "(none yet)"}\n`,
  );
  process.exit(name && name !== "--help" ? 2 : 0);
}
const file = path.join(here, `${name}.ts`);
if (!existsSync(file)) process.exit(2);
const mod = (await import(pathToFileURL(file).href)) as { default: (args: string[]) => Promise<void> };
await mod.default(args);
