// The crawl config: one zod schema for the file `infuse crawl init` writes (JSONC: JSON with
// // and /* */ comments and trailing commas), the CLI and the library. Errors name the key.
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { InfuseError } from "../../../core/errors.js";

const MiB = 1024 * 1024;

export const DEFAULT_USER_AGENT = "infuse-crawler/0.1 (+https://github.com/infuse-ai/infuse)";

/** The seed's `{tag, class, style}` entry: an element kept as main content. */
export const SearchContentSchema = z.strictObject({
  tag: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]*$/, "an HTML tag name such as p or h2"),
  class: z.string().optional(),
  style: z.string().optional(),
});
export type SearchContent = z.infer<typeof SearchContentSchema>;

export const DEFAULT_SEARCH_CONTENTS: SearchContent[] = [{ tag: "h1" }, { tag: "h2" }, { tag: "p" }, { tag: "li" }];

const pattern = z.string().min(1);

export const CrawlConfigSchema = z.strictObject({
  /** Where the crawl starts (absolute http(s) URLs). */
  startUrls: z.array(z.url({ protocol: /^https?$/ })).min(1),
  /** Follow only URLs matching one of these (a glob on the whole URL, or `re:PATTERN`); empty: all in scope. */
  allow: z.array(pattern).default([]),
  /** Never follow URLs matching one of these (wins over allow). */
  deny: z.array(pattern).default([]),
  /** Which hosts links may lead to. */
  scope: z.enum(["same-host", "same-domain", "any"]).default("same-host"),
  /** CSS selectors of the main content; absent: Readability finds it. */
  select: z.array(z.string().min(1)).optional(),
  /** Elements kept from the main content, in document order; [] keeps all of it. */
  searchContents: z.array(SearchContentSchema).default(DEFAULT_SEARCH_CONTENTS),
  /** CSS selectors removed before extraction (nav, footer, cookie banners). */
  exclude: z.array(z.string().min(1)).default([]),
  maxPages: z.int().positive().default(1000),
  /** Links followed from a start URL (0: the start URLs only). */
  maxDepth: z.int().nonnegative().default(10),
  /** Requests in flight at once (all hosts). */
  concurrency: z.int().positive().max(64).default(4),
  /** Pause between two requests to one host (milliseconds); robots.txt crawl-delay raises it. */
  delayMs: z.int().nonnegative().default(500),
  respectRobots: z.boolean().default(true),
  /** use: sitemap URLs join the start URLs; skip: ignore sitemaps; only: crawl sitemap URLs, follow no links. */
  sitemaps: z.enum(["use", "skip", "only"]).default("use"),
  userAgent: z.string().min(1).default(DEFAULT_USER_AGENT),
  headers: z.record(z.string(), z.string()).default({}),
  /** Follow links to PDF and DOCX files and load them with the document loaders. */
  followPdf: z.boolean().default(true),
  /** Follow images (`<img src>` and links to PNG, JPEG, TIFF) and read their text with OCR (off: OCR takes time). */
  followImages: z.boolean().default(false),
  /** Render HTML pages in headless chromium (playwright-core) before extraction. */
  render: z.boolean().default(false),
  /** The chromium used when render is on. */
  chromiumPath: z.string().default("/usr/bin/chromium"),
  /** One request (each try) fails after this long without an answer (milliseconds). */
  timeoutMs: z.int().positive().default(30_000),
  /** Tries after the first on 429, 5xx and network errors. */
  retries: z.int().nonnegative().max(10).default(3),
  /** First backoff (milliseconds), doubled per try, when no Retry-After is given. */
  retryBaseMs: z.int().nonnegative().default(1000),
  /** A Retry-After longer than this fails the page instead of waiting (milliseconds). */
  maxRetryAfterMs: z.int().nonnegative().default(120_000),
  maxRedirects: z.int().nonnegative().max(20).default(5),
  /** Largest response read (bytes); also capped by limits.maxFileBytes. */
  maxPageBytes: z
    .int()
    .positive()
    .default(20 * MiB),
  /** URLs of one shape (digits replaced, e.g. /calendar/N/N) fetched at most this often: traps. */
  maxPerPattern: z.int().positive().default(200),
  /** Query parameters dropped besides the tracking/session defaults (utm_*, gclid, sessionid…). */
  dropParams: z.array(z.string().min(1)).default([]),
});

export type CrawlConfigInput = z.input<typeof CrawlConfigSchema>;
export type CrawlConfig = z.output<typeof CrawlConfigSchema>;

/** Checks a config value; errors are `crawl.bad_config` naming the key (e.g. `allow.2`). */
export function crawlConfig(value: unknown, file = "crawl config"): CrawlConfig {
  const parsed = CrawlConfigSchema.safeParse(value);
  if (parsed.success) {
    for (const [i, p] of [...parsed.data.allow, ...parsed.data.deny].entries()) checkPattern(p, i, parsed.data, file);
    return parsed.data;
  }
  const issue = parsed.error.issues[0]!;
  const key = issue.path.map(String).join(".") || "(top level)";
  const unknown = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
  throw new InfuseError("crawl.bad_config", `${file}: ${key}: ${issue.message}${unknown}`, {
    kind: "usage",
    hint: `fix "${key}" in ${file}; the keys are listed in docs/crawling.md (infuse crawl init URL writes a starting config)`,
    details: { key },
  });
}

function checkPattern(p: string, i: number, config: CrawlConfig, file: string): void {
  if (!p.startsWith("re:")) return;
  try {
    new RegExp(p.slice(3));
  } catch (e) {
    const key = i < config.allow.length ? `allow.${i}` : `deny.${i - config.allow.length}`;
    throw new InfuseError("crawl.bad_config", `${file}: ${key}: not a regular expression (${(e as Error).message})`, {
      kind: "usage",
      hint: `fix "${key}" in ${file}: write re:PATTERN with a JavaScript regular expression, or a glob`,
      details: { key },
      cause: e,
    });
  }
}

/** Reads a crawl config file (JSON with comments and trailing commas, as `crawl init` writes). */
export async function readCrawlConfig(file: string): Promise<CrawlConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InfuseError("crawl.config_unreadable", `cannot read ${file} (${code ?? (e as Error).message})`, {
      kind: code === "ENOENT" ? "not_found" : "io",
      hint: "write one with: infuse crawl init URL --out " + file,
      cause: e,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(stripJsonComments(text));
  } catch (e) {
    throw new InfuseError("crawl.bad_config", `${file}: not JSON (${(e as Error).message})`, {
      kind: "usage",
      hint: "the file is JSON with // or /* */ comments allowed",
      cause: e,
    });
  }
  return crawlConfig(value, file);
}

/** JSONC to JSON: comments outside strings and trailing commas before } or ] removed. */
export function stripJsonComments(text: string): string {
  return dropTrailingCommas(
    scan(text, (c, next, i) =>
      c === "/" && next === "/" ? text.indexOf("\n", i) : c === "/" && next === "*" ? closeOf(text, i) : undefined,
    ),
  );
}

function closeOf(text: string, i: number): number {
  const end = text.indexOf("*/", i + 2);
  return end < 0 ? text.length : end + 2;
}

function dropTrailingCommas(text: string): string {
  return scan(text, (c, _next, i) => (c === "," && /^\s*[}\]]/.test(text.slice(i + 1, i + 200)) ? i + 1 : undefined));
}

/** Copies `text`, strings untouched; elsewhere `skip` may return where to continue (dropping what is between). */
function scan(text: string, skip: (c: string, next: string | undefined, i: number) => number | undefined): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const to = skip(c, text[i + 1], i);
    if (to === undefined) {
      out += c;
      i++;
    } else i = to < 0 ? text.length : to;
  }
  return out;
}
