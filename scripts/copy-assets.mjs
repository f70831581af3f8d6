// Copies the non-TypeScript files modules read at run time (prompt templates: src/**/*.txt) from
// src/ to the same place under dist/, since tsc emits only .js. src/web is built by build-web.mjs.
// Usage: node scripts/copy-assets.mjs [--out DIR]
import { copyFile, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ASSET = /\.txt$/;

/** Copies every asset under `srcDir` (src/web left out) to `outDir`; returns their relative paths. */
export async function copyAssets(srcDir = path.join(root, "src"), outDir = path.join(root, "dist")) {
  const copied = [];
  async function walk(rel) {
    for (const entry of await readdir(path.join(srcDir, rel), { withFileTypes: true })) {
      const name = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        if (name !== "web") await walk(name);
      } else if (ASSET.test(entry.name)) {
        await mkdir(path.join(outDir, rel), { recursive: true });
        await copyFile(path.join(srcDir, name), path.join(outDir, name));
        copied.push(name.split(path.sep).join("/"));
      }
    }
  }
  await walk("");
  return copied;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--out");
  const copied = await copyAssets(undefined, at > 0 ? path.resolve(process.argv[at + 1]) : undefined);
  console.log(`copied ${copied.length} asset(s): ${copied.join(", ")}`);
}
