// The web UI at `/`: the built bundle in dist/web (index.html and its assets) when it is there, else
// a small page saying how to build it. Asset paths are resolved inside dist/web and checked to stay
// there; nothing else of the file system is reachable.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";

/** The package root (this file is src/server/web-ui.ts, or dist/src/server/web-ui.js when built). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".map": "application/json",
};

export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>infuse</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>infuse is running</h1>
<p>The web UI is not built. Run <code>npm run build</code> and restart <code>infuse serve</code>.</p>
<p>The API works without it: <a href="/v1/models">/v1/models</a>, <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
`;

/** Serves `/` and the UI's assets from `dir` (default dist/web in the package). */
export function serveWebUi(app: Hono, dir: string = path.join(packageRoot(), "dist", "web")): void {
  const root = path.resolve(dir);
  const file = async (rel: string): Promise<Buffer | undefined> => {
    const abs = path.resolve(root, rel);
    if (abs !== root && !abs.startsWith(root + path.sep)) return undefined;
    return readFile(abs).catch(() => undefined);
  };
  app.get("/", async (c) => {
    const index = await file("index.html");
    return c.html(index ? index.toString("utf8") : NOT_BUILT_PAGE);
  });
  app.get("/assets/*", async (c) => {
    const rel = decodeURIComponent(c.req.path.slice(1));
    const body = await file(rel);
    if (!body) return c.notFound();
    return c.body(new Uint8Array(body), 200, {
      "content-type": TYPES[path.extname(rel).toLowerCase()] ?? "application/octet-stream",
    });
  });
}
