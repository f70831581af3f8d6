// Sitemaps: <urlset> page URLs and <sitemapindex> children (followed, bounded), gzip or plain.
// The robots.txt Sitemap: lines are tried first, then /sitemap.xml of each start origin.
import { gunzipSync } from "node:zlib";
import { fetchPage, type FetchSettings } from "./fetch.js";

/** At most this many sitemap files are read per crawl (an index of indexes cannot run away). */
export const MAX_SITEMAP_FILES = 100;

export interface SitemapResult {
  /** The sitemap files read. */
  files: string[];
  urls: string[];
  notes: string[];
}

export function parseSitemap(xml: string): { urls: string[]; sitemaps: string[] } {
  const locs = (block: string) => [...block.matchAll(/<loc>\s*([^<]+?)\s*<\/loc>/gi)].map((m) => decodeXml(m[1]!));
  const urls: string[] = [];
  const sitemaps: string[] = [];
  for (const m of xml.matchAll(/<(url|sitemap)\b[^>]*>([\s\S]*?)<\/\1>/gi)) {
    const target = m[1]!.toLowerCase() === "url" ? urls : sitemaps;
    target.push(...locs(m[2]!));
  }
  return { urls, sitemaps };
}

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** Reads the sitemaps at `starts` and the indexes they name, up to `maxUrls` page URLs. */
export async function readSitemaps(
  starts: readonly string[],
  settings: FetchSettings,
  maxUrls: number,
  signal?: AbortSignal,
): Promise<SitemapResult> {
  const queue = [...new Set(starts)];
  const done = new Set<string>();
  const result: SitemapResult = { files: [], urls: [], notes: [] };
  while (queue.length > 0 && done.size < MAX_SITEMAP_FILES && result.urls.length < maxUrls) {
    const url = queue.shift()!;
    if (done.has(url)) continue;
    done.add(url);
    const got = await fetchPage({ url, signal }, { ...settings, retries: Math.min(settings.retries, 1) });
    if (got.kind !== "ok") {
      if (got.kind !== "gone") result.notes.push(`${url}: ${"reason" in got ? got.reason : got.kind}`);
      continue;
    }
    let bytes = got.body;
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        bytes = gunzipSync(bytes, { maxOutputLength: settings.maxBytes });
      } catch (e) {
        result.notes.push(`${url}: bad gzip (${(e as Error).message})`);
        continue;
      }
    }
    const parsed = parseSitemap(new TextDecoder().decode(bytes));
    if (parsed.urls.length === 0 && parsed.sitemaps.length === 0) {
      result.notes.push(`${url}: no <url> or <sitemap> entries`);
      continue;
    }
    result.files.push(url);
    queue.push(...parsed.sitemaps);
    for (const u of parsed.urls) if (result.urls.length < maxUrls) result.urls.push(u);
  }
  if (queue.length > 0 && done.size >= MAX_SITEMAP_FILES)
    result.notes.push(`stopped after ${MAX_SITEMAP_FILES} sitemap files`);
  return result;
}
