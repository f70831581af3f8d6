// render: true: a page whose text only JavaScript writes, rendered by the system's chromium
// (playwright-core, /usr/bin/chromium as CI installs it) before extraction; without render it has no text.
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crawlConfig, crawlSite } from "../../src/rag/source/crawl/index.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";

const CHROMIUM = "/usr/bin/chromium";
let site: TestSite;
beforeAll(async () => {
  site = await startTestSite();
});
afterAll(async () => site.close());

describe.skipIf(!existsSync(CHROMIUM) && !process.env["CI"])("crawl with render: true", () => {
  it("extracts what the page's script wrote; without render the page has no content", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-crawl-render-"));
    const base = { startUrls: [`${site.origin}/js-only`], sitemaps: "skip", maxDepth: 0, delayMs: 0 } as const;
    const plain = await crawlSite(crawlConfig(base), { out: path.join(dir, "plain.jsonl") });
    expect(plain.crawl.failed).toEqual([{ url: `${site.origin}/js-only`, reason: "no main content found" }]);

    const out = path.join(dir, "rendered.jsonl");
    const rendered = await crawlSite(crawlConfig({ ...base, render: true, chromiumPath: CHROMIUM }), { out });
    expect(rendered.crawl.failed).toEqual([]);
    const [line] = (await readFile(out, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { text: string });
    expect(line!.text).toContain("JSTEXT: this paragraph exists only after the script ran");
  });
});
