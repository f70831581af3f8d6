// `npm run bench -- crawl [--pages N] [--big-pages N] [--concurrency N]`: the crawler against a
// generated site on 127.0.0.1 with politeness off (no delay, no robots.txt, no sitemaps): pages/s
// to JSONL and into a collection (hash embedder), and the peak RSS of a crawl of a 10,000-page
// site in a child process (compiled JavaScript, as the product runs), the site served from here.
import { spawn } from "node:child_process";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { HashingEmbedder } from "../src/rag/embed/hashing.js";
import { crawlConfig, crawlSite, type CrawlConfig } from "../src/rag/source/crawl/index.js";
import { compiledBenchRunner, emit, log, peakRssMb, cpuFigure } from "./emit.js";

const WORDS = "tide moon harbour keeper lamp shore wave current reef beacon chart sounding".split(" ");

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
}

/** Page n links to 2n+1 and 2n+2 (a tree: breadth-first reaches every page) and home. */
function pageHtml(n: number, pages: number): string {
  const w = (k: number) => WORDS[(n * 7 + k) % WORDS.length];
  const links = [2 * n + 1, 2 * n + 2].filter((c) => c < pages).map((c) => `<a href="/p/${c}">page ${c}</a>`);
  const paras = Array.from(
    { length: 4 },
    (_, i) =>
      `<p>Note ${n}.${i}: the ${w(i)} by the ${w(i + 1)} is ${(n * 31 + i) % 997} metres from the ${w(i + 2)}, as the ${w(i + 3)} chart shows.</p>`,
  ).join("");
  return `<!doctype html><html><head><title>Page ${n}</title></head><body><nav><a href="/p/0">Home</a></nav>
<main><h1>Page ${n}</h1>${paras}<h2>Related</h2><ul>${links.map((l) => `<li>${l}</li>`).join("")}</ul></main>
<footer>footer text</footer></body></html>`;
}

async function serveSite(pages: number): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const m = /^\/p\/(\d+)$/.exec(req.url ?? "");
    const n = m ? Number(m[1]) : -1;
    if (n < 0 || n >= pages) return void res.writeHead(404).end();
    const body = pageHtml(n, pages);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", etag: `"p${n}"` }).end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function impolite(origin: string, pages: number, concurrency: number): CrawlConfig {
  return crawlConfig({
    startUrls: [`${origin}/p/0`],
    delayMs: 0,
    respectRobots: false,
    sitemaps: "skip",
    concurrency,
    maxPages: pages,
    maxDepth: 64,
    maxPerPattern: pages + 1,
    searchContents: [],
  });
}

/** In the child: crawl the site into JSONL and report peak RSS. */
async function child(origin: string, pages: number, concurrency: number, dir: string): Promise<void> {
  const started = performance.now();
  const report = await crawlSite(impolite(origin, pages, concurrency), {
    out: path.join(dir, "big.jsonl"),
    statePath: path.join(dir, "big-state.json"),
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ peak_rss_mb: peakRssMb(), pages: report.crawl.pages, seconds }) + "\n");
}

function runChild(runJs: string, args: string[]): Promise<{ peak_rss_mb: number; pages: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [runJs, "crawl", "--child", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) reject(new Error(`child failed (${code}): ${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as { peak_rss_mb: number; pages: number; seconds: number });
    });
  });
}

export default async function crawlBench(args: string[]): Promise<void> {
  const concurrency = Number(flag(args, "--concurrency", "8"));
  const origin = flag(args, "--child", "");
  if (origin) {
    await child(origin, Number(flag(args, "--pages", "10000")), concurrency, flag(args, "--dir", os.tmpdir()));
    return;
  }
  emit(cpuFigure("crawl"));
  const pages = Number(flag(args, "--pages", "1000"));
  const big = Number(flag(args, "--big-pages", "10000"));
  const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-bench-crawl-"));
  const site = await serveSite(Math.max(pages, big));
  try {
    const config = impolite(site.origin, pages, concurrency);
    let started = performance.now();
    const jsonl = await crawlSite(config, { out: path.join(dir, "pages.jsonl") });
    let seconds = (performance.now() - started) / 1000;
    emit({
      bench: "crawl",
      figure: "crawl_jsonl_pages_per_s",
      value: +(jsonl.crawl.pages / seconds).toFixed(1),
      pages: jsonl.crawl.pages,
      concurrency,
      seconds: +seconds.toFixed(2),
    });

    started = performance.now();
    const ingest = await crawlSite(config, {
      collection: "bench",
      ingest: { dataDir: dir, embedder: new HashingEmbedder() },
    });
    seconds = (performance.now() - started) / 1000;
    emit({
      bench: "crawl",
      figure: "crawl_ingest_pages_per_s",
      value: +(ingest.crawl.pages / seconds).toFixed(1),
      pages: ingest.crawl.pages,
      embedder: "hash-512",
      concurrency,
      seconds: +seconds.toFixed(2),
    });

    const runJs = compiledBenchRunner();
    log(`crawling a ${big}-page site in a child process …`);
    const r = await runChild(runJs, [
      site.origin,
      "--pages",
      String(big),
      "--concurrency",
      String(concurrency),
      "--dir",
      dir,
    ]);
    emit({
      bench: "crawl",
      figure: "crawl_peak_rss_mb",
      value: r.peak_rss_mb,
      pages: r.pages,
      output: "jsonl + state file",
      concurrency,
      pages_per_s: +(r.pages / r.seconds).toFixed(1),
    });
  } finally {
    await site.close();
    await rm(dir, { recursive: true, force: true });
  }
}
