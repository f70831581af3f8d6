// The web UI bundle: it builds with esbuild, index.html loads only files that sit next to it (no
// CDN), the bundle names no remote host, and no UI source writes server text as HTML.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { citationsIn, splitCitations } from "../../src/web/chat-api.js";
import { readSse } from "../../src/web/api.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
let out: string;

beforeAll(async () => {
  out = await mkdtemp(path.join(os.tmpdir(), "infuse-web-"));
  await run(process.execPath, [path.join(root, "scripts/build-web.mjs"), "--out", out]);
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe("web UI bundle", () => {
  it("builds index.html that references only local assets, all present", async () => {
    const html = await readFile(path.join(out, "index.html"), "utf8");
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(refs.sort()).toEqual(["./assets/app.css", "./assets/app.js"]);
    for (const ref of refs) {
      expect(ref).not.toMatch(/^(?:[a-z]+:)?\/\//i);
      expect(existsSync(path.join(out, ref))).toBe(true);
    }
    expect(html).toContain("connect-src 'self'");
  });

  it("bundles preact and uPlot in: the only URLs left are XML namespace names", async () => {
    const js = await readFile(path.join(out, "assets", "app.js"), "utf8");
    const css = await readFile(path.join(out, "assets", "app.css"), "utf8");
    const urls = new Set([...js.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0]));
    for (const url of urls) expect(url).toMatch(/^http:\/\/www\.w3\.org\//);
    expect(js).not.toMatch(/\bimport\s*\(|from\s*"[^.]/);
    expect(css).toContain(".uplot");
    expect(css).not.toMatch(/@import|url\(\s*["']?https?:/);
  });

  it("UI sources never set HTML from data", async () => {
    const dir = path.join(root, "src/web");
    const files = (await readdir(dir, { recursive: true })).filter((f) => /\.tsx?$/.test(f));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const source = await readFile(path.join(dir, f), "utf8");
      expect(source, f).not.toMatch(/innerHTML|dangerouslySetInnerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
  });
});

describe("chat helpers", () => {
  it("splits [n] markers out of an answer", () => {
    expect(splitCitations("Passwords need 12 characters [1], rotated yearly [2][10].")).toEqual([
      "Passwords need 12 characters ",
      1,
      ", rotated yearly ",
      2,
      10,
      ".",
    ]);
    expect(splitCitations("no markers [x]")).toEqual(["no markers [x]"]);
  });

  it("finds citations at the top level, in the infuse extra, and on the delta", () => {
    const c = { n: 1, source: "policy.pdf", page: 2, heading: "Passwords", chunk_id: "abc" };
    expect(citationsIn({ citations: [c] })).toEqual([c]);
    expect(citationsIn({ infuse: { sources: [c, { bogus: true }] } })).toEqual([c]);
    expect(citationsIn({ choices: [{ delta: { citations: [c] } }] })).toEqual([c]);
    expect(citationsIn({ choices: [{ delta: { content: "x" } }] })).toBeUndefined();
  });

  it("reads server-sent events split across chunks, with event names and CRLF", async () => {
    const parts = ['event: progress\r\ndata: {"done":', "1}\r\n\r\ndata: a\ndata: b\n\n", "data: [DONE]\n\n"];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
        controller.close();
      },
    });
    const got = [];
    for await (const m of readSse(new Response(body))) got.push(m);
    expect(got).toEqual([
      { event: "progress", data: '{"done":1}' },
      { event: "message", data: "a\nb" },
      { event: "message", data: "[DONE]" },
    ]);
  });
});
