// What a crawl hands out and reports: the units (a Source plus the page's JSONL fields) and the
// summary (fetched, unchanged, skipped by rule, robots-disallowed, failed with reasons, traps).
import { createHash } from "node:crypto";
import type { Source } from "../types.js";

/** What a crawled unit carries besides the Source fields: the page's JSONL fields. */
export interface CrawledPage {
  url: string;
  title: string;
  fetchedAt: string;
  contentType: string;
}

export interface CrawlUnit extends Source {
  page: CrawledPage;
}

export type SkipRule = "scope" | "allow" | "deny" | "depth" | "type" | "trap" | "duplicate" | "noindex" | "maxPages";

export interface CrawlReport {
  root: string;
  /** The frontier ran empty: pages not met were removed from the collection. */
  complete: boolean;
  fetched: number;
  /** Answered 304 Not Modified (kept without reading). */
  unchanged: number;
  /** Pages handed to the stream (new, changed, unchanged and kept). */
  pages: number;
  skipped: Partial<Record<SkipRule, number>>;
  skippedExamples: { url: string; rule: SkipRule; detail?: string }[];
  robotsDisallowed: string[];
  failed: { url: string; reason: string }[];
  gone: string[];
  traps: { shape: string; skipped: number }[];
  hosts: { host: string; delayMs: number }[];
  notes: string[];
}

export function emptyReport(root: string): CrawlReport {
  return {
    root,
    complete: false,
    fetched: 0,
    unchanged: 0,
    pages: 0,
    skipped: {},
    skippedExamples: [],
    robotsDisallowed: [],
    failed: [],
    gone: [],
    traps: [],
    hosts: [],
    notes: [],
  };
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function validators(o: { etag?: string; lastModified?: string }): { etag?: string; lastModified?: string } {
  return { ...(o.etag ? { etag: o.etag } : {}), ...(o.lastModified ? { lastModified: o.lastModified } : {}) };
}
