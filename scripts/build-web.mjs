// Bundles the web UI (src/web, Preact + uPlot) with esbuild into dist/web: index.html and
// assets/app.js, assets/app.css (the server serves `/` and `/assets/*`). Everything the page loads is a local file next to index.html; nothing comes from a CDN.
// Usage: node scripts/build-web.mjs [--out DIR] [--dev]
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Builds the UI into `outDir` and returns the files written (relative to it). */
export async function buildWeb(outDir = path.join(root, "dist", "web"), { dev = false } = {}) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: { app: path.join(root, "src", "web", "main.tsx") },
    absWorkingDir: root,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2020"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: !dev,
    sourcemap: dev ? "inline" : false,
    outdir: path.join(outDir, "assets"),
    metafile: true,
    logLevel: "warning",
    loader: { ".css": "css" },
    legalComments: "none",
  });
  const html = await readFile(path.join(root, "src", "web", "index.html"), "utf8");
  await writeFile(path.join(outDir, "index.html"), html);
  return [
    "index.html",
    ...Object.keys(result.metafile.outputs).map((f) => path.relative(outDir, path.resolve(root, f))),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--out");
  const out = at >= 0 && args[at + 1] ? path.resolve(args[at + 1]) : undefined;
  const files = await buildWeb(out, { dev: args.includes("--dev") });
  process.stdout.write(`web UI: ${files.join(", ")}\n`);
}
