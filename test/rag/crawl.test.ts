// The crawler against a real HTTP server on 127.0.0.1 (test/helpers/test-site.ts): boilerplate
// removed with headings kept, robots.txt (a disallowed folder, crawl-delay), the sitemap, a
// redirect chain and loop, a 429 with Retry-After, a calendar trap, a PDF link, URL
// normalisation, canonical and content-hash dedupe; ETag re-crawls; resume after an abort.
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isInfuseError } from "../../src/core/errors.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import {
  crawlConfig,
  crawlSite,
  crawlSource,
  normalizeUrl,
  stripJsonComments,
  urlMatcher,
  type CrawlConfigInput,
  type CrawlSiteOptions,
} from "../../src/rag/source/crawl/index.js";
import { retryAfterMs } from "../../src/rag/source/crawl/fetch.js";
import { inScope } from "../../src/rag/source/crawl/url.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));

let site: TestSite;
beforeEach(async () => {
  site = await startTestSite();
});
afterEach(async () => site.close());

/** A config for the test site: no politeness delay, tiny retries; retryBaseMs is huge on purpose
 *  (a retry that ignored Retry-After: 0 would wait a minute and time the test out). */
function config(extra: Partial<CrawlConfigInput> = {}) {
  return crawlConfig({
    startUrls: [`${site.origin}/`],
    delayMs: 0,
    retries: 2,
    retryBaseMs: 60_000,
    timeoutMs: 5000,
    maxPerPattern: 3,
    exclude: [".cookie-banner"],
    searchContents: [],
    ...extra,
  });
}

/** Ingest into "site"; `batchSize` 1 commits every page (for the resume test), default one commit. */
function ingestOptions(dataDir: string, batchSize?: number): CrawlSiteOptions {
  const store = new LanceDbStoreProvider(dataDir);
  return {
    collection: "site",
    ingest: { dataDir, store, embedder: new HashingEmbedder(), ...(batchSize ? { batchSize } : {}) },
    statePath: path.join(dataDir, "state.json"),
  };
}

describe("crawl a made-up site", () => {
  it("ingests main content, keeps headings, obeys robots and rules, and reports what it skipped", async () => {
    const dir = await tmp("crawl");
    const out = path.join(dir, "pages.jsonl");
    const report = await crawlSite(config(), { ...ingestOptions(dir), out });
    const o = site.origin;
    const c = report.crawl;
    expect(c.complete).toBe(true);

    const manifest = (await new LanceDbStoreProvider(dir).manifest("site"))!;
    const keys = Object.keys(manifest.units).sort();
    expect(keys).toEqual(
      [
        `${o}/`,
        `${o}/about`,
        `${o}/busy`, // 429 with Retry-After: 0, then 200
        `${o}/calendar/2026/1`,
        `${o}/calendar/2026/2`,
        `${o}/calendar/2026/3`,
        `${o}/files/report.pdf`,
        `${o}/guide/final`, // /old → /mid → /guide/final
        `${o}/guide/moon`, // utm_source and sessionid dropped: one URL
        `${o}/guide/tides`,
        `${o}/orphan`, // only in the sitemap
      ].sort(),
    );
    // robots.txt: the disallowed folder is never asked for; crawl-delay sets the host's pause
    expect(c.robotsDisallowed).toEqual([`${o}/private/secret`]);
    expect(site.hits("/private/secret")).toBe(0);
    expect(c.hosts).toEqual([{ host: new URL(o).host, delayMs: 2 }]);
    // the 429 was retried once
    expect(site.hits("/busy")).toBe(2);
    // the session-id variants of /guide/moon were one fetch
    expect(site.requests.filter((r) => r.path.startsWith("/guide/moon"))).toHaveLength(1);
    // the calendar trap: three months, then the URL shape is refused and reported
    expect(c.traps).toEqual([{ shape: `${new URL(o).host}/calendar/N/N?`, skipped: 1 }]);
    expect(c.skipped.trap).toBe(1);
    // the image is skipped by type, the external link by scope, the copy by content, the print view by canonical
    expect(c.skippedExamples).toEqual(
      expect.arrayContaining([
        { url: `${o}/logo.png`, rule: "type", detail: "by extension" },
        { url: "http://example.invalid/x", rule: "scope" },
        { url: `${o}/copy`, rule: "duplicate", detail: `same content as ${o}/guide/moon` },
        { url: `${o}/print/tides`, rule: "duplicate", detail: `same canonical URL as ${o}/guide/tides` },
      ]),
    );
    expect(c.failed).toEqual([{ url: `${o}/loop-a`, reason: expect.stringContaining("redirect loop") as string }]);

    // boilerplate gone, headings kept as the chunk's heading path
    const store = await new LanceDbStoreProvider(dir).open("site");
    const tides = await store.chunksOf(`${o}/guide/tides`);
    const text = tides.map((t) => t.text).join("\n");
    expect(text).toContain("Spring tides are the largest tides");
    for (const junk of ["NAVTEXT", "FOOTERTEXT", "COOKIETEXT"]) expect(text).not.toContain(junk);
    expect(tides.map((t) => t.headingPath)).toContainEqual(["Tides", "Spring tides"]);
    expect(tides[0]!.metadata).toMatchObject({ url: `${o}/guide/tides`, title: "Tides" });
    const pdf = await store.chunksOf(`${o}/files/report.pdf`);
    expect(pdf.map((t) => t.text).join(" ")).toContain("PDFTEXT: the highest tide was 7.2 metres.");
    store.close();

    // JSONL: one line per page, snake_case keys
    const lines = (await readFile(out, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toHaveLength(keys.length);
    const busy = lines.find((l) => l["url"] === `${o}/busy`)!;
    expect(Object.keys(busy).sort()).toEqual(["content_type", "fetched_at", "text", "title", "url"]);
    expect(busy).toMatchObject({ title: "Busy", content_type: "text/html" });
    expect(busy["text"]).toContain("BUSYTEXT");
    expect(lines.find((l) => l["url"] === `${o}/files/report.pdf`)!["text"]).toContain("PDFTEXT");
    // every request said who we are
    expect(site.requests.every((r) => r.userAgent?.startsWith("infuse-crawler/"))).toBe(true);
  });

  it("selectors and searchContents pick the content; allow/deny and sitemaps: only narrow the crawl", async () => {
    const dir = await tmp("crawl-select");
    const out = path.join(dir, "pages.jsonl");
    const report = await crawlSite(
      config({
        sitemaps: "only",
        deny: [`re:/orphan$`],
        select: ["main"],
        searchContents: [{ tag: "h2" }, { tag: "p" }],
      }),
      { out, statePath: path.join(dir, "state.json") },
    );
    const lines = (await readFile(out, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines.map((l) => l["url"]).sort()).toEqual([`${site.origin}/`, `${site.origin}/guide/tides`]);
    const tides = lines.find((l) => l["url"]?.endsWith("/guide/tides"))!["text"]!;
    // h1 not listed: the title heading stands in; h2 and p kept
    expect(tides).toMatch(/^# Tides\n/);
    expect(tides).toContain("## Neap tides");
    expect(report.crawl.skipped).toMatchObject({ deny: 1 });
    expect(site.hits("/about")).toBe(0); // sitemaps: only follows no links
  });

  it("re-crawls with ETags: unchanged pages are not re-read, a changed one is updated, a deleted one removed", async () => {
    const dir = await tmp("crawl-etag");
    const cfg = config({ maxPerPattern: 1 });
    await crawlSite(cfg, ingestOptions(dir));
    const before = site.requests.length;
    site.set(
      "/about",
      `<html><head><title>About</title></head><body><main><h1>About us</h1><p>CHANGED: the society moved to a new harbour building this year, with more room.</p></main></body></html>`,
    );
    site.remove("/orphan");
    const second = await crawlSite(cfg, ingestOptions(dir));
    const again = site.requests.slice(before);
    // every page fetched before was asked with its ETag
    expect(again.find((r) => r.path === "/guide/tides")).toMatchObject({ status: 304 });
    expect(again.filter((r) => r.path === "/guide/tides")).toHaveLength(1); // never re-read for its text
    expect(second.crawl.unchanged).toBeGreaterThan(5);
    expect(second.crawl.gone).toEqual([`${site.origin}/orphan`]);
    expect(second.ingest).toMatchObject({
      added: [],
      updated: [`${site.origin}/about`],
      removed: [`${site.origin}/orphan`],
    });
    const store = await new LanceDbStoreProvider(dir).open("site");
    expect((await store.chunksOf(`${site.origin}/about`)).map((c) => c.text).join(" ")).toContain("CHANGED");
    store.close();
  });

  it("stops cleanly on abort, keeps the frontier, and --resume finishes without fetching done pages again", async () => {
    site.close();
    site = await startTestSite({ pages: 12 });
    const dir = await tmp("crawl-resume");
    const cfg = config({
      startUrls: [`${site.origin}/list/0`],
      allow: [`${site.origin}/list/*`],
      sitemaps: "skip",
      concurrency: 1,
      maxPerPattern: 100,
      maxDepth: 20,
    });
    const controller = new AbortController();
    site.onRequest = (p) => {
      if (p === "/list/6") controller.abort();
    };
    const stopped = await crawlSite(cfg, { ...ingestOptions(dir, 1), signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(isInfuseError(stopped) && stopped.kind).toBe("cancelled");
    const state = JSON.parse(await readFile(path.join(dir, "state.json"), "utf8")) as {
      run: { status: string; frontier: { url: string }[] };
    };
    expect(state.run.status).toBe("stopped");
    expect(state.run.frontier[0]!.url).toBe(`${site.origin}/list/6`);

    site.onRequest = undefined;
    const resumed = await crawlSite(cfg, { ...ingestOptions(dir, 1), resume: true });
    expect(resumed.crawl.complete).toBe(true);
    const manifest = (await new LanceDbStoreProvider(dir).manifest("site"))!;
    expect(Object.keys(manifest.units), JSON.stringify(resumed.crawl)).toHaveLength(12);
    for (let i = 0; i < 6; i++) expect(site.hits(`/list/${i}`)).toBe(1);
    expect(resumed.ingest).toMatchObject({ removed: [] });
  });

  it("a consumer that stops early (ingest cancelled between units) leaves a resumable state", async () => {
    const dir = await tmp("crawl-break");
    const statePath = path.join(dir, "state.json");
    const stream = crawlSource(config({ sitemaps: "skip", concurrency: 2 }), { statePath });
    const keys: string[] = [];
    for await (const unit of stream) {
      keys.push(unit.key);
      if (keys.length === 3) break;
    }
    const state = JSON.parse(await readFile(statePath, "utf8")) as {
      run: { status: string; frontier: unknown[]; done: string[] };
    };
    expect(state.run.status).toBe("stopped");
    expect(state.run.done).toEqual(keys);
    expect(state.run.frontier.length).toBeGreaterThan(0);
    expect(stream.syncRoot).toBeUndefined();
  });

  it("skips non-HTML by Content-Type, refuses pages over maxPageBytes, and times out a silent server", async () => {
    const o = site.origin;
    const dir = await tmp("crawl-limits");
    const report = await crawlSite(
      config({
        startUrls: [`${o}/notes`, `${o}/big`, `${o}/slow`, `${o}/away`],
        sitemaps: "skip",
        maxDepth: 0,
        retries: 0,
        timeoutMs: 300,
        maxPageBytes: 100_000,
      }),
      { out: path.join(dir, "p.jsonl") },
    );
    expect(report.crawl.skippedExamples).toContainEqual({ url: `${o}/notes`, rule: "type", detail: "text/plain" });
    // a redirect hop is checked against the scope before it is followed
    expect(report.crawl.skippedExamples).toContainEqual({
      url: `${o}/away`,
      rule: "scope",
      detail: "redirect out of scope to http://example.invalid/landing",
    });
    expect(report.crawl.failed).toEqual(
      expect.arrayContaining([
        { url: `${o}/big`, reason: "larger than 100000 bytes (maxPageBytes)" },
        { url: `${o}/slow`, reason: "no answer in 300 ms (timeoutMs)" },
      ]),
    );
    expect(report.crawl.pages).toBe(0);
  });

  it("URLs robots.txt disallows do not use up maxPages", async () => {
    const o = site.origin;
    const dir = await tmp("crawl-budget");
    const report = await crawlSite(
      config({ startUrls: [`${o}/private/secret`, `${o}/about`], sitemaps: "skip", maxDepth: 0, maxPages: 1 }),
      { out: path.join(dir, "p.jsonl") },
    );
    expect(report.crawl).toMatchObject({ pages: 1, complete: true, robotsDisallowed: [`${o}/private/secret`] });
  });

  it("config errors name the key", () => {
    const bad = (value: unknown) => {
      try {
        crawlConfig(value, "crawl.json");
      } catch (e) {
        return isInfuseError(e) ? { code: e.code, key: e.details["key"], message: e.message } : e;
      }
      return undefined;
    };
    expect(bad({ startUrls: ["ftp://x"] })).toMatchObject({ code: "crawl.bad_config", key: "startUrls.0" });
    expect(bad({ startUrls: ["http://x.test/"], scope: "world" })).toMatchObject({ key: "scope" });
    expect(bad({ startUrls: ["http://x.test/"], deny: ["re:("] })).toMatchObject({ key: "deny.0" });
    expect(bad({ startUrls: ["http://x.test/"], searchContents: [{ tag: "p", colour: "red" }] })).toMatchObject({
      key: "searchContents.0",
    });
    expect(bad({ startUrls: ["http://x.test/"], maxPages: 0 })).toMatchObject({ key: "maxPages" });
  });
});

describe("crawl URL rules", () => {
  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("3", now)).toBe(3000);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it("normalises URLs, matches globs and re: patterns on the whole URL, and reads scopes", () => {
    expect(normalizeUrl("/a/b;jsessionid=XYZ?b=2&utm_medium=x&a=1&PHPSESSID=9#top", "https://x.test/")).toBe(
      "https://x.test/a/b?a=1&b=2",
    );
    expect(normalizeUrl("mailto:a@b.c")).toBeUndefined();
    expect(normalizeUrl("https://x.test/?ref=1&q=2", undefined, ["ref"])).toBe("https://x.test/?q=2");
    const glob = urlMatcher("https://x.test/docs/*");
    expect([glob("https://x.test/docs/a"), glob("https://x.test/docs/a/b")]).toEqual([true, false]);
    expect(urlMatcher("https://x.test/docs/**")("https://x.test/docs/a/b?c=1")).toBe(true);
    expect(urlMatcher("re:/tag/\\d+")("https://x.test/blog/tag/12")).toBe(true);
    expect(inScope("https://www.x.test/a", ["docs.x.test"], "same-domain")).toBe(true);
    expect(inScope("https://www.x.test/a", ["docs.x.test"], "same-host")).toBe(false);
    expect(inScope("https://a.example.co.uk/", ["b.example.co.uk"], "same-domain")).toBe(true);
    expect(inScope("https://other.co.uk/", ["b.example.co.uk"], "same-domain")).toBe(false);
  });

  it("reads JSON with comments and trailing commas, leaving // inside strings alone", () => {
    const text = '{\n  // a comment\n  "startUrls": ["https://x.test/a//b"], /* block */\n  "deny": ["re:a,]"],\n}\n';
    expect(JSON.parse(stripJsonComments(text))).toEqual({ startUrls: ["https://x.test/a//b"], deny: ["re:a,]"] });
  });
});
