// robots.txt per origin (robots-parser): allow/disallow for our user agent, crawl-delay and the
// sitemaps it names. A missing robots.txt (4xx) allows everything; one that cannot be read
// (5xx, network) allows everything too, and says so in the crawl's notes.
import robotsParserModule from "robots-parser";
import { fetchPage, type FetchSettings } from "./fetch.js";

interface RobotsTxt {
  isAllowed(url: string, ua?: string): boolean | undefined;
  getCrawlDelay(ua?: string): number | undefined;
  getSitemaps(): string[];
}

// its .d.ts declares the module shorthand-ambient, so the default export's call signature is lost
const robotsParser = robotsParserModule as unknown as (url: string, text: string) => RobotsTxt;

export interface Robots {
  origin: string;
  allowed(url: string): boolean;
  /** Seconds between requests asked for our user agent. */
  crawlDelay: number | undefined;
  sitemaps: string[];
  /** The file's text ("" when there is none) and how it was got. */
  text: string;
  note: string | undefined;
}

export async function fetchRobots(origin: string, settings: FetchSettings, signal?: AbortSignal): Promise<Robots> {
  const url = `${origin}/robots.txt`;
  const got = await fetchPage({ url, signal }, { ...settings, retries: Math.min(settings.retries, 1) });
  let text = "";
  let note: string | undefined;
  if (got.kind === "ok") text = new TextDecoder().decode(got.body);
  else if (got.kind === "failed") note = `${url}: ${got.reason}; crawling as if it allowed everything`;
  const robot = robotsParser(url, text);
  const ua = settings.userAgent;
  return {
    origin,
    allowed: (u) => robot.isAllowed(u, ua) !== false,
    crawlDelay: robot.getCrawlDelay(ua),
    sitemaps: robot.getSitemaps(),
    text,
    note,
  };
}

/** A short account of a robots.txt for `crawl init`: its rule lines for all agents and ours. */
export function summarizeRobots(text: string): { disallow: string[]; allow: string[]; crawlDelay?: number } {
  const disallow: string[] = [];
  const allow: string[] = [];
  let crawlDelay: number | undefined;
  let applies = false;
  let inAgents = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^([a-z-]+)\s*:\s*(.*)$/i.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (key === "user-agent") {
      applies = (inAgents ? applies : false) || value === "*" || /infuse/i.test(value);
      inAgents = true;
      continue;
    }
    inAgents = false;
    if (!applies) continue;
    if (key === "disallow" && value) disallow.push(value);
    else if (key === "allow" && value) allow.push(value);
    else if (key === "crawl-delay" && !Number.isNaN(Number(value))) crawlDelay = Number(value);
  }
  return { disallow, allow, ...(crawlDelay !== undefined ? { crawlDelay } : {}) };
}
