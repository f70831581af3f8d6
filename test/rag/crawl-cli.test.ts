// `infuse crawl init URL` and `infuse crawl --config FILE` through the real CLI (main() in this
// process) against the made-up site on 127.0.0.1: the commented config init writes is what the
// crawl reads, and the run's summary, collection and JSONL come out.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCrawlConfig } from "../../src/rag/source/crawl/index.js";
import { mainCli } from "../helpers/main-cli.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";

let site: TestSite;
beforeAll(async () => {
  site = await startTestSite();
});
afterAll(async () => site.close());

describe("infuse crawl", () => {
  it("init summarises robots.txt and the sitemap into a commented config that crawl then runs", async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), "infuse-crawl-cli-"));
    const file = path.join(home, "crawl.json");
    const init = await mainCli(["crawl", "init", `${site.origin}/`, "--out", file], { INFUSE_HOME: home });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain("robots.txt: 1 disallowed path(s): /private/; crawl-delay 0.002 s");
    expect(init.stdout).toContain("sitemaps: 1 file(s), 3 URLs");
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/^\/\/ infuse crawl config for 127\.0\.0\.1:\d+/);
    expect(text).toContain("// robots.txt: 1 Disallow rule(s) (/private/), Crawl-delay 0.002 s");
    const config = await readCrawlConfig(file);
    expect(config).toMatchObject({ startUrls: [`${site.origin}/`], respectRobots: true, delayMs: 500 });
    // a second init does not overwrite it
    const again = await mainCli(["crawl", "init", `${site.origin}/`, "--out", file], { INFUSE_HOME: home });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("--force");

    // edit as a user would: no pause, a small budget
    await writeFile(file, text.replace('"delayMs": 500', '"delayMs": 0').replace('"maxPages": 1000', '"maxPages": 4'));
    const out = path.join(home, "pages.jsonl");
    const run = await mainCli(["crawl", "--config", file, "--collection", "site", "--out", out, "--json"], {
      INFUSE_HOME: home,
    });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as {
      crawl: { complete: boolean; pages: number; skipped: Record<string, number> };
      ingest: { collection: string; added: string[] };
      out: { pages: number };
      state: string;
    };
    expect(report.crawl).toMatchObject({ complete: false, pages: 4 });
    expect(report.crawl.skipped["max_pages"]).toBeGreaterThan(0);
    expect(report.ingest).toMatchObject({ collection: "site" });
    expect(report.ingest.added).toHaveLength(4);
    expect(report.out.pages).toBe(4);
    expect(report.state).toBe(path.join(home, "collections", "site.crawl-state.json"));
    expect((await readFile(out, "utf8")).trim().split("\n")).toHaveLength(4);

    const bad = await mainCli(["crawl", "--config", file.replace("crawl.json", "none.json"), "--out", out], {
      INFUSE_HOME: home,
    });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain("infuse crawl init URL");
  });
});
