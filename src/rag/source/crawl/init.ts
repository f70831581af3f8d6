// `crawl init URL`: reads the site's robots.txt and sitemap(s), summarises them, and writes a
// commented starting config (JSONC, which readCrawlConfig reads back) with every key explained.
import { DEFAULT_LIMITS } from "../../../core/limits.js";
import type { TaskOptions } from "../../../core/progress.js";
import { CrawlConfigSchema, DEFAULT_USER_AGENT } from "./config.js";
import type { FetchSettings } from "./fetch.js";
import { fetchRobots, summarizeRobots } from "./robots.js";
import { readSitemaps } from "./sitemap.js";
import { normalizeUrl } from "./url.js";

export interface CrawlInitSummary {
  url: string;
  robots: { found: boolean; disallow: string[]; allow: string[]; crawlDelay?: number; note?: string };
  sitemaps: { files: string[]; urls: number; sample: string[]; topFolders: { folder: string; urls: number }[] };
  notes: string[];
}

export interface CrawlInitResult {
  /** The config file's text (JSON with comments). */
  text: string;
  summary: CrawlInitSummary;
}

export async function crawlInit(
  url: string,
  options: TaskOptions & { userAgent?: string } = {},
): Promise<CrawlInitResult> {
  const start = normalizeUrl(url);
  // the schema checks the URL and says which key is wrong
  const config = CrawlConfigSchema.parse({
    startUrls: [start ?? url],
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
  });
  const origin = new URL(config.startUrls[0]!).origin;
  const fetch: FetchSettings = {
    userAgent: config.userAgent,
    headers: {},
    timeoutMs: config.timeoutMs,
    retries: 1,
    retryBaseMs: 500,
    maxRetryAfterMs: 10_000,
    maxRedirects: config.maxRedirects,
    maxBytes: Math.min(config.maxPageBytes, DEFAULT_LIMITS.maxFileBytes),
  };
  options.onProgress?.({ task: "crawl init", done: 0, total: 2, note: `${origin}/robots.txt` });
  const robots = await fetchRobots(origin, fetch, options.signal);
  const rules = summarizeRobots(robots.text);
  options.onProgress?.({ task: "crawl init", done: 1, total: 2, note: "sitemaps" });
  const starts = robots.sitemaps.length > 0 ? robots.sitemaps : [`${origin}/sitemap.xml`];
  const maps = await readSitemaps(starts, fetch, 50_000, options.signal);
  options.onProgress?.({ task: "crawl init", done: 2, total: 2 });
  const folders = new Map<string, number>();
  for (const u of maps.urls) {
    const first = normalizeUrl(u)
      ?.replace(/^https?:\/\/[^/]+/, "")
      .split("/")[1];
    if (first !== undefined) folders.set(`/${first}`, (folders.get(`/${first}`) ?? 0) + 1);
  }
  const summary: CrawlInitSummary = {
    url: config.startUrls[0]!,
    robots: {
      found: robots.text.length > 0,
      disallow: rules.disallow,
      allow: rules.allow,
      ...(rules.crawlDelay !== undefined ? { crawlDelay: rules.crawlDelay } : {}),
      ...(robots.note ? { note: robots.note } : {}),
    },
    sitemaps: {
      files: maps.files,
      urls: maps.urls.length,
      sample: maps.urls.slice(0, 5),
      topFolders: [...folders]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([folder, urls]) => ({ folder, urls })),
    },
    notes: maps.notes,
  };
  return { text: configText(config.startUrls[0]!, summary), summary };
}

function configText(start: string, s: CrawlInitSummary): string {
  const j = (v: unknown) => JSON.stringify(v);
  const host = new URL(start).host;
  const robotsLine = s.robots.found
    ? `robots.txt: ${s.robots.disallow.length} Disallow rule(s)${s.robots.disallow.length ? ` (${s.robots.disallow.slice(0, 6).join(", ")})` : ""}` +
      (s.robots.crawlDelay !== undefined ? `, Crawl-delay ${s.robots.crawlDelay} s` : "")
    : "robots.txt: none (everything allowed)";
  const mapLine =
    s.sitemaps.files.length > 0
      ? `sitemaps: ${s.sitemaps.files.join(", ")}: ${s.sitemaps.urls} URLs` +
        (s.sitemaps.topFolders.length
          ? `; most under ${s.sitemaps.topFolders.map((f) => `${f.folder} (${f.urls})`).join(", ")}`
          : "")
      : "sitemaps: none found";
  return `// infuse crawl config for ${host}, written by \`infuse crawl init\` (JSON with comments).
// ${robotsLine}
// ${mapLine}
// Run: infuse crawl --config THIS_FILE --collection NAME   (or --out pages.jsonl). Keys: docs/crawling.md
{
  // where the crawl starts
  "startUrls": ${j([start])},
  // follow only URLs matching one of these: globs on the whole URL (* stays within a path segment,
  // ** crosses them) or "re:REGEX"; empty = every URL in scope
  "allow": [],
  // never follow these (wins over allow), e.g. "**/login**", "re:[?&]page=\\\\d{3,}"
  "deny": [],
  // which hosts links may lead to: same-host | same-domain | any
  "scope": "same-host",
  // CSS selectors of the main content, e.g. ["main", "article .body"]; without: Readability finds it
  // "select": ["main"],
  // which elements of the main content to keep ({tag, class?, style?}); [] keeps all of it
  "searchContents": [{ "tag": "h1" }, { "tag": "h2" }, { "tag": "p" }, { "tag": "li" }],
  // CSS selectors removed before extraction (nav, footer, cookie banners...)
  "exclude": ["nav", "footer", ".cookie-banner"],
  "maxPages": 1000,
  // links followed away from a start URL
  "maxDepth": 10,
  // URLs of one shape (digits as N, e.g. /calendar/N/N) fetched at most this often: calendars and other traps
  "maxPerPattern": 200,
  // requests in flight at once, and the pause between two requests to one host (ms);
  // robots.txt Crawl-delay raises the pause when it asks for more
  "concurrency": 4,
  "delayMs": ${s.robots.crawlDelay !== undefined ? Math.max(500, Math.round(s.robots.crawlDelay * 1000)) : 500},
  "respectRobots": true,
  // use: sitemap URLs join the start URLs; skip; only: crawl the sitemap URLs and follow no links
  "sitemaps": "use",
  "userAgent": ${j(DEFAULT_USER_AGENT)},
  "headers": {},
  // follow links to PDF and DOCX files (loaded by infuse's document loaders)
  "followPdf": true,
  // follow images (<img src>, links to PNG/JPEG/TIFF) and read their text with OCR (tesseract); slower
  "followImages": false,
  // render pages with headless chromium (for sites that need JavaScript); slower
  "render": false,
  "timeoutMs": 30000,
  "retries": 3,
  "maxPageBytes": 20971520
}
`;
}
