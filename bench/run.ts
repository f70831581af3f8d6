// `npm run bench -- NAME [args]`: runs bench/NAME.ts, which prints one JSON line per figure. Also runs
// compiled (.bench-build/bench/run.js NAME …) for child processes that must not carry tsx's loader.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const self = fileURLToPath(import.meta.url);
const here = path.dirname(self);
const ext = path.extname(self); // ".ts" under tsx, ".js" compiled
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(here)
  .filter((f) => f.endsWith(ext) && ![`run${ext}`, `emit${ext}`, `shapes${ext}`].includes(f))
  .map((f) => f.slice(0, -ext.length));

if (!name || name === "--help" || !available.includes(name)) {
  process.stderr.write(
    `${name && name !== "--help" ? `unknown benchmark "${name}"\n` : ""}usage: npm run bench -- NAME [args]\n` +
      `benchmarks: ${available.join(", ") || "(none yet)"}\n`,
  );
  process.exit(name && name !== "--help" ? 2 : 0);
}
const file = path.join(here, `${name}${ext}`);
if (!existsSync(file)) process.exit(2);
const mod = (await import(pathToFileURL(file).href)) as { default: (args: string[]) => Promise<void> };
await mod.default(args);
