// One URL of the crawl: robots check, (conditional) GET, then HTML extracted (rendered first when
// `render` is on) or a PDF/DOCX kept as bytes for the loaders. The crawl loop decides what an
// outcome means for the frontier, the report and the stream.
import { decodeText, MEDIA } from "../../load/index.js";
import type { CrawlConfig } from "./config.js";
import { extractPage, type ExtractedPage } from "./extract.js";
import { fetchPage, type FetchSettings } from "./fetch.js";
import type { Renderer } from "./render.js";
import type { Robots } from "./robots.js";
import type { FrontierItem, PageRecord } from "./state.js";

export const HTML_TYPES = new Set(["text/html", "application/xhtml+xml"]);
export const FILE_TYPES = new Set<string>([MEDIA.pdf, MEDIA.docx]);
/** Images the loaders read with OCR, with `followImages`. */
export const IMAGE_TYPES = new Set<string>([MEDIA.png, MEDIA.jpeg, MEDIA.tiff]);

export type Outcome =
  | { kind: "html"; url: string; page: ExtractedPage; etag?: string; lastModified?: string; contentType: string }
  | { kind: "file"; url: string; bytes: Uint8Array; etag?: string; lastModified?: string; mediaType: string }
  | { kind: "unchanged"; url: string; record: PageRecord }
  | { kind: "robots" }
  | { kind: "gone"; status: number }
  | { kind: "type"; mediaType: string }
  | { kind: "refused"; url: string; reason: string }
  | { kind: "failed"; reason: string };

export interface VisitContext {
  config: CrawlConfig;
  fetch: FetchSettings;
  robots: Robots | undefined;
  renderer: (() => Promise<Renderer>) | undefined;
  signal: AbortSignal | undefined;
  /** A redirect target's refusal (scope, allow/deny), else undefined. */
  checkRedirect: (url: string) => string | undefined;
}

export async function visit(item: FrontierItem, known: PageRecord | undefined, ctx: VisitContext): Promise<Outcome> {
  if (ctx.robots && !ctx.robots.allowed(item.url)) return { kind: "robots" };
  const wants = (t: string) =>
    HTML_TYPES.has(t) || (ctx.config.followPdf && FILE_TYPES.has(t)) || (ctx.config.followImages && IMAGE_TYPES.has(t));
  const got = await fetchPage(
    {
      url: item.url,
      signal: ctx.signal,
      etag: known?.etag,
      lastModified: known?.lastModified,
      wants,
      onRedirect: ctx.checkRedirect,
    },
    ctx.fetch,
  );
  switch (got.kind) {
    case "not_modified":
      return known
        ? { kind: "unchanged", url: got.url, record: known }
        : { kind: "failed", reason: "HTTP 304 unasked" };
    case "gone":
      return { kind: "gone", status: got.status };
    case "type":
      return { kind: "type", mediaType: got.mediaType };
    case "refused":
      return { kind: "refused", url: got.url, reason: got.reason };
    case "failed":
      return { kind: "failed", reason: got.reason };
    case "ok":
      break;
  }
  const validators = {
    ...(got.etag ? { etag: got.etag } : {}),
    ...(got.lastModified ? { lastModified: got.lastModified } : {}),
  };
  if (!HTML_TYPES.has(got.mediaType))
    return { kind: "file", url: got.url, bytes: got.body, mediaType: got.mediaType, ...validators };
  const charset = /charset="?([\w-]+)/i.exec(got.contentType)?.[1];
  let html: string;
  try {
    html = decodeText(got.body, got.url, charset?.toLowerCase());
    if (ctx.renderer) html = await (await ctx.renderer()).render(got.url);
  } catch (e) {
    return { kind: "failed", reason: (e as Error).message };
  }
  const page = extractPage(html, got.url, ctx.config);
  return { kind: "html", url: got.url, page, contentType: got.contentType, ...validators };
}

/** The current content of a page, fetched again without validators (a 304 page whose text is needed). */
export async function refetch(record: PageRecord, ctx: VisitContext): Promise<Uint8Array> {
  const outcome = await visit({ url: record.url, depth: 0 }, undefined, { ...ctx, robots: undefined });
  if (outcome.kind === "html") return new TextEncoder().encode(outcome.page.markdown);
  if (outcome.kind === "file") return outcome.bytes;
  throw new Error(`${record.url}: fetched again: ${"reason" in outcome ? outcome.reason : outcome.kind}`);
}
