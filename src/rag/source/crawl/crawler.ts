// The crawler as a source stream: a breadth-first frontier, a p-queue per host (one request at a
// time, `delayMs` or robots.txt crawl-delay apart; no limit when both are 0), at most
// `concurrency` requests in flight, pages yielded as they arrive. Its state persists so Ctrl-C
// and --resume continue; a complete crawl sets syncRoot, so ingest removes pages that are gone.
import PQueue from "p-queue";
import { cancelledError, isInfuseError } from "../../../core/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../../../core/limits.js";
import { throttledProgress, type TaskOptions } from "../../../core/progress.js";
import type { SourceStream } from "../types.js";
import type { CrawlConfig } from "./config.js";
import type { FetchSettings } from "./fetch.js";
import { startRenderer, type Renderer } from "./render.js";
import { fetchRobots, type Robots } from "./robots.js";
import { readSitemaps } from "./sitemap.js";
import { emptyReport, sha256, validators, type CrawlReport, type CrawlUnit, type SkipRule } from "./report.js";
import { readState, writeState, type CrawlStateData, type FrontierItem, type PageRecord } from "./state.js";
import { inScope, normalizeUrl, UrlRules, urlShape } from "./url.js";
import { refetch, visit, type Outcome, type VisitContext } from "./visit.js";

export interface CrawlOptions extends TaskOptions {
  /** The state file (frontier, seen set, validators); absent: nothing persists. */
  statePath?: string | undefined;
  /** Continue the stopped run in the state file instead of starting from the start URLs. */
  resume?: boolean | undefined;
  limits?: Limits | undefined;
}

const SKIP_EXT =
  /\.(png|jpe?g|gif|webp|svg|ico|bmp|tiff?|css|js|mjs|json|xml|rss|atom|zip|gz|tgz|tar|7z|rar|exe|dmg|iso|mp[34]|m4a|wav|ogg|webm|avi|mov|woff2?|ttf|eot)$/i;
const FILE_EXT = /\.(pdf|docx)$/i;
const IMAGE_EXT = /\.(png|jpe?g|tiff?)$/i;
const SAVE_EVERY_MS = 2000;
const EXAMPLES = 50;

export type { CrawledPage, CrawlReport, CrawlUnit, SkipRule } from "./report.js";

export class CrawlStream implements SourceStream {
  syncRoot: string | undefined;
  readonly report: CrawlReport;
  readonly #config: CrawlConfig;
  readonly #options: CrawlOptions;
  readonly #root: string;

  constructor(config: CrawlConfig, options: CrawlOptions) {
    this.#config = config;
    this.#options = options;
    this.#root = `crawl:${config.startUrls.map((u) => normalizeUrl(u) ?? u).join(" ")}`;
    this.report = emptyReport(this.#root);
  }

  [Symbol.asyncIterator](): AsyncGenerator<CrawlUnit> {
    return new CrawlRun(this.#config, this.#options, this.#root, this).run();
  }
}

/** Crawls the site `config` describes as a stream of pages for ingest (or JSONL). */
export function crawlSource(config: CrawlConfig, options: CrawlOptions = {}): CrawlStream {
  return new CrawlStream(config, options);
}

class CrawlRun {
  readonly #config: CrawlConfig;
  readonly #options: CrawlOptions;
  readonly #root: string;
  readonly #stream: CrawlStream;
  readonly #report: CrawlReport;
  readonly #rules: UrlRules;
  readonly #startHosts: string[];
  readonly #fetch: FetchSettings;
  readonly #robots = new Map<string, Promise<Robots | undefined>>();
  readonly #queues = new Map<string, PQueue>();
  readonly #shapes = new Map<string, number>();
  readonly #hashes = new Map<string, string>();
  readonly #byUrl = new Map<string, string>();
  #state!: CrawlStateData;
  #seen = new Set<string>();
  #done = new Set<string>();
  #renderer: Promise<Renderer> | undefined;
  #requests = 0;

  constructor(config: CrawlConfig, options: CrawlOptions, root: string, stream: CrawlStream) {
    this.#config = config;
    this.#options = options;
    this.#root = root;
    this.#stream = stream;
    this.#report = stream.report;
    this.#rules = new UrlRules(config.allow, config.deny);
    this.#startHosts = [...new Set(config.startUrls.map((u) => new URL(u).host))];
    const limits = options.limits ?? DEFAULT_LIMITS;
    this.#fetch = {
      userAgent: config.userAgent,
      headers: config.headers,
      timeoutMs: config.timeoutMs,
      retries: config.retries,
      retryBaseMs: config.retryBaseMs,
      maxRetryAfterMs: config.maxRetryAfterMs,
      maxRedirects: config.maxRedirects,
      maxBytes: Math.min(config.maxPageBytes, limits.maxFileBytes),
    };
  }

  async *run(): AsyncGenerator<CrawlUnit> {
    this.#stream.syncRoot = undefined;
    const { signal, statePath } = this.#options;
    const state = await readState(statePath, this.#root);
    this.#state = state;
    const resuming = this.#options.resume === true && state.run.status !== "complete" && state.run.done.length > 0;
    for (const [key, p] of Object.entries(state.pages)) this.#byUrl.set(p.url, key);
    const progress = throttledProgress(this.#options.onProgress);
    const inflight = new Map<FrontierItem, Promise<{ item: FrontierItem; outcome: Outcome }>>();
    let frontier: FrontierItem[] = [];
    let lastSave = Date.now();
    try {
      if (resuming) {
        this.#seen = new Set(state.run.seen);
        frontier = state.run.frontier;
        this.#requests = state.run.done.length;
        // pages yielded before the stop: yielded again (unchanged for ingest) so a complete run keeps them
        for (const key of state.run.done) {
          const record = state.pages[key];
          if (!record) continue;
          this.#done.add(key);
          this.#hashes.set(record.hash, key);
          this.#report.pages++;
          yield this.#unit(key, record, undefined);
        }
      } else {
        state.run = { status: "running", frontier: [], seen: [], done: [] };
        frontier = await this.#seeds();
      }
      state.run.status = "running";
      for (;;) {
        while (inflight.size < this.#config.concurrency && frontier.length > 0) {
          if (this.#requests >= this.#config.maxPages) break;
          const item = frontier.shift()!;
          this.#requests++;
          inflight.set(item, this.#schedule(item));
        }
        if (inflight.size === 0) break;
        const { item, outcome } = await Promise.race(inflight.values());
        inflight.delete(item);
        const unit = this.#handle(item, outcome, frontier);
        progress({ task: "crawl", done: this.#report.fetched, unit: "pages", note: item.url });
        if (unit) yield unit;
        if (Date.now() - lastSave > SAVE_EVERY_MS) {
          await this.#save(frontier, inflight.keys());
          lastSave = Date.now();
        }
      }
      if (frontier.length > 0) {
        this.#skip(frontier[0]!.url, "maxPages", `${frontier.length} URLs left in the frontier`);
        this.#report.skipped.maxPages = frontier.length;
      }
      // a page fetched before and not met now is gone: it leaves the state with the collection's unit
      this.#report.complete = frontier.length === 0;
      if (this.#report.complete) {
        for (const key of Object.keys(state.pages)) if (!this.#done.has(key)) delete state.pages[key];
        frontier = [];
      }
      // maxPages reached: "stopped", so --resume (with a higher maxPages) goes on from the frontier
      state.run.status = this.#report.complete ? "complete" : "stopped";
      await this.#save(frontier, []);
      if (this.#report.complete) this.#stream.syncRoot = this.#root;
    } catch (e) {
      if (signal?.aborted && !(isInfuseError(e) && e.kind === "cancelled")) throw cancelledError("crawl", e);
      throw e;
    } finally {
      // stopped by an error here, by abort, or by the consumer (ingest cancelled or failed and left
      // the loop): requests in flight go back into the frontier and the state says "stopped"
      if (state.run.status === "running") {
        state.run.status = "stopped";
        for (const p of inflight.values()) p.catch(() => {});
        if (signal?.aborted) await Promise.allSettled(inflight.values());
        await this.#save(frontier, inflight.keys()).catch(() => {});
      }
      this.#report.traps = [...this.#shapes]
        .filter(([, n]) => n > this.#config.maxPerPattern)
        .map(([shape, n]) => ({ shape, skipped: n - this.#config.maxPerPattern }));
      if (this.#renderer) await (await this.#renderer.catch(() => undefined))?.close();
    }
  }

  /** The start URLs, and the sitemaps' URLs unless `sitemaps` is skip (only: those alone). */
  async #seeds(): Promise<FrontierItem[]> {
    const items: FrontierItem[] = [];
    const add = (url: string, seed: boolean) => {
      const u = normalizeUrl(url, undefined, this.#config.dropParams);
      if (u) this.#enqueue(u, 0, items, seed);
    };
    if (this.#config.sitemaps !== "only") for (const u of this.#config.startUrls) add(u, true);
    if (this.#config.sitemaps === "skip") return items;
    const origins = [...new Set(this.#config.startUrls.map((u) => new URL(u).origin))];
    const starts: string[] = [];
    for (const origin of origins) {
      const robots = await this.#robotsFor(origin);
      starts.push(...(robots?.sitemaps.length ? robots.sitemaps : [`${origin}/sitemap.xml`]));
    }
    const found = await readSitemaps(starts, this.#fetch, this.#config.maxPages * 4, this.#options.signal);
    this.#report.notes.push(...found.notes);
    for (const u of found.urls) add(u, false);
    return items;
  }

  #robotsFor(origin: string): Promise<Robots | undefined> {
    let got = this.#robots.get(origin);
    if (!got) {
      got = this.#config.respectRobots
        ? fetchRobots(origin, this.#fetch, this.#options.signal).then((r) => {
            if (r.note) this.#report.notes.push(r.note);
            return r;
          })
        : Promise.resolve(undefined);
      this.#robots.set(origin, got);
    }
    return got;
  }

  /** One request at a time per host, `delayMs` (or crawl-delay) apart; none of that when both are 0. */
  async #queueFor(origin: string): Promise<PQueue> {
    const robots = await this.#robotsFor(origin);
    let queue = this.#queues.get(origin);
    if (!queue) {
      const delay = Math.max(this.#config.delayMs, Math.round((robots?.crawlDelay ?? 0) * 1000));
      queue =
        delay > 0
          ? new PQueue({ concurrency: 1, interval: delay, intervalCap: 1 })
          : new PQueue({ concurrency: this.#config.concurrency });
      this.#queues.set(origin, queue);
      this.#report.hosts.push({ host: new URL(origin).host, delayMs: delay });
    }
    return queue;
  }

  async #schedule(item: FrontierItem): Promise<{ item: FrontierItem; outcome: Outcome }> {
    const origin = new URL(item.url).origin;
    const queue = await this.#queueFor(origin);
    const robots = await this.#robotsFor(origin);
    const key = this.#byUrl.get(item.url);
    const known = key !== undefined ? this.#state.pages[key] : undefined;
    const outcome = (await queue.add(async () => {
      try {
        return await visit(item, known, this.#context(robots));
      } catch (e) {
        // a stop, or no browser for render: true, ends the crawl; anything else fails this page only
        if (isInfuseError(e) && (e.kind === "cancelled" || e.code === "crawl.no_browser")) throw e;
        return { kind: "failed", reason: (e as Error).message } as const;
      }
    })) as Outcome;
    return { item, outcome };
  }

  #context(robots: Robots | undefined): VisitContext {
    return {
      config: this.#config,
      fetch: this.#fetch,
      robots,
      renderer: this.#config.render ? () => (this.#renderer ??= startRenderer(this.#config)) : undefined,
      signal: this.#options.signal,
      checkRedirect: (to) => {
        const u = normalizeUrl(to, undefined, this.#config.dropParams);
        if (!u) return "redirect to a non-http URL";
        if (!inScope(u, this.#startHosts, this.#config.scope)) return `redirect out of scope to ${u}`;
        const rule = this.#rules.refuse(u);
        return rule ? `redirect to ${u} refused by ${rule}` : undefined;
      },
    };
  }

  /** What an outcome means: links into the frontier, the report, and the unit to yield (if any). */
  #handle(item: FrontierItem, outcome: Outcome, frontier: FrontierItem[]): CrawlUnit | undefined {
    const report = this.#report;
    if (outcome.kind !== "robots") report.fetched++;
    const knownKey = this.#byUrl.get(item.url);
    const known = knownKey !== undefined ? this.#state.pages[knownKey] : undefined;
    switch (outcome.kind) {
      case "robots":
        this.#requests--; // never requested: it does not count against maxPages
        report.robotsDisallowed.push(item.url);
        return undefined;
      case "gone":
        if (known) report.gone.push(item.url);
        return undefined;
      case "type":
        this.#skip(item.url, "type", outcome.mediaType);
        return undefined;
      case "refused":
        this.#skip(item.url, "scope", outcome.reason);
        return undefined;
      case "failed":
        report.failed.push({ url: item.url, reason: outcome.reason });
        // a page known from an earlier crawl that fails now is kept, not removed
        return known && knownKey !== undefined ? this.#accept(knownKey, known, undefined) : undefined;
      case "unchanged":
        report.unchanged++;
        this.#follow(outcome.record.links, item.depth, frontier);
        return this.#accept(knownKey!, outcome.record, undefined);
      case "file": {
        const url = normalizeUrl(outcome.url, undefined, this.#config.dropParams) ?? outcome.url;
        this.#seen.add(url);
        const record: PageRecord = {
          url: item.url,
          hash: sha256(outcome.bytes),
          title: decodeURIComponent(new URL(url).pathname.split("/").pop() ?? url),
          mediaType: outcome.mediaType,
          links: [],
          ...validators(outcome),
        };
        return this.#accept(url, record, outcome.bytes);
      }
      case "html": {
        const { page } = outcome;
        const url = normalizeUrl(outcome.url, undefined, this.#config.dropParams) ?? outcome.url;
        this.#seen.add(url);
        const canonical =
          page.canonical && inScope(page.canonical, this.#startHosts, this.#config.scope) ? page.canonical : url;
        this.#seen.add(canonical);
        const links = this.#config.sitemaps === "only" ? [] : page.links;
        this.#follow(links, item.depth, frontier);
        if (page.noindex) return this.#skip(url, "noindex");
        if (page.markdown.length === 0) {
          report.failed.push({ url, reason: "no main content found" });
          return undefined;
        }
        const bytes = new TextEncoder().encode(page.markdown);
        const record: PageRecord = {
          url: item.url,
          hash: sha256(bytes),
          title: page.title,
          mediaType: "text/html",
          links,
          ...validators(outcome),
        };
        return this.#accept(canonical, record, bytes);
      }
    }
  }

  /** Records a page under `key` and makes its unit, unless its key or content came already. */
  #accept(key: string, record: PageRecord, bytes: Uint8Array | undefined): CrawlUnit | undefined {
    if (this.#done.has(key)) return this.#skip(record.url, "duplicate", `same canonical URL as ${key}`);
    const twin = this.#hashes.get(record.hash);
    if (twin !== undefined) return this.#skip(record.url, "duplicate", `same content as ${twin}`);
    this.#hashes.set(record.hash, key);
    this.#done.add(key);
    this.#state.run.done.push(key);
    this.#state.pages[key] = record;
    this.#byUrl.set(record.url, key);
    this.#report.pages++;
    return this.#unit(key, record, bytes);
  }

  #unit(key: string, record: PageRecord, bytes: Uint8Array | undefined): CrawlUnit {
    let held = bytes;
    const html = record.mediaType === "text/html";
    const context = this.#context(undefined);
    return {
      key,
      name: key,
      mediaType: html ? "text/markdown; charset=utf-8" : record.mediaType,
      root: this.#root,
      contentHash: record.hash,
      metadata: html ? { url: key, title: record.title } : { url: key },
      ...(bytes ? { size: bytes.byteLength } : {}),
      bytes: async () => (held ??= await refetch(record, context)),
      page: {
        url: key,
        title: record.title,
        fetchedAt: new Date().toISOString(),
        contentType: record.mediaType,
      },
    };
  }

  #follow(links: readonly string[], depth: number, frontier: FrontierItem[]): void {
    for (const link of links) this.#enqueue(link, depth + 1, frontier, false);
  }

  #enqueue(url: string, depth: number, frontier: FrontierItem[], seed: boolean): void {
    if (this.#seen.has(url)) return;
    this.#seen.add(url);
    if (!seed && !inScope(url, this.#startHosts, this.#config.scope)) return void this.#skip(url, "scope");
    const rule = this.#rules.refuse(url);
    if (rule) return void this.#skip(url, rule);
    if (depth > this.#config.maxDepth) return void this.#skip(url, "depth");
    const path = new URL(url).pathname;
    const image = this.#config.followImages && IMAGE_EXT.test(path);
    if ((SKIP_EXT.test(path) && !image) || (!this.#config.followPdf && FILE_EXT.test(path)))
      return void this.#skip(url, "type", "by extension");
    const shape = urlShape(url);
    const count = (this.#shapes.get(shape) ?? 0) + 1;
    this.#shapes.set(shape, count);
    if (count > this.#config.maxPerPattern) return void this.#skip(url, "trap", shape);
    frontier.push({ url, depth });
  }

  #skip(url: string, rule: SkipRule, detail?: string): undefined {
    const report = this.#report;
    report.skipped[rule] = (report.skipped[rule] ?? 0) + 1;
    if (report.skippedExamples.length < EXAMPLES)
      report.skippedExamples.push({ url, rule, ...(detail !== undefined ? { detail } : {}) });
    return undefined;
  }

  async #save(frontier: FrontierItem[], inflight: Iterable<FrontierItem>): Promise<void> {
    const run = this.#state.run;
    // requests in flight go back to the front: a resumed run asks for them again
    run.frontier = [...inflight, ...frontier];
    run.seen = [...this.#seen];
    await writeState(this.#options.statePath, this.#state);
  }
}
