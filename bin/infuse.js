#!/usr/bin/env node
// Entry point of the `infuse` command: runs the compiled CLI (npm install builds dist/).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    "error: infuse is not built\n  hint: run `npm install` (or `npm run build`) in the infuse folder\n",
  );
  process.exit(1);
}
const { main } = await import(entry.href);
process.exit(await main(process.argv));
