// `crawlSite`: the one library call behind `infuse crawl`: the crawl stream ingested into a
// collection (ingestSources, the same pipeline as folders) and/or written as JSONL, one
// {url, title, text, fetched_at, content_type} line per page.
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { once } from "node:events";
import { diskError, InfuseError, isInfuseError } from "../../../core/errors.js";
import { toWire } from "../../../core/wire.js";
import { loadBytes } from "../../load/index.js";
import { ingestSources, type IngestOptions, type IngestReport } from "../../pipeline/ingest.js";
import type { SourceStream } from "../types.js";
import type { CrawlConfig } from "./config.js";
import { crawlSource, type CrawlOptions, type CrawlReport, type CrawlStream, type CrawlUnit } from "./crawler.js";

export interface CrawlSiteOptions extends CrawlOptions {
  /** Ingest the pages into this collection (with `ingest`'s settings and embedder). */
  collection?: string | undefined;
  ingest?: IngestOptions | undefined;
  /** Write the pages as JSONL to this file. */
  out?: string | undefined;
}

export interface CrawlSiteReport {
  crawl: CrawlReport;
  ingest?: IngestReport;
  out?: { file: string; pages: number; failed: { url: string; reason: string }[] };
  state?: string;
}

/** Where the crawl state lives unless --state says: next to the collection, else next to the JSONL. */
export function defaultStatePath(options: {
  collection?: string | undefined;
  out?: string | undefined;
  dataDir: string;
}): string {
  if (options.collection !== undefined)
    return path.join(options.dataDir, "collections", `${options.collection}.crawl-state.json`);
  if (options.out !== undefined) return `${path.resolve(options.out)}.crawl-state.json`;
  return path.join(options.dataDir, "crawl-state.json");
}

/** Crawls the site into a collection and/or a JSONL file; throws `cancelled` on abort with the state saved. */
export async function crawlSite(config: CrawlConfig, options: CrawlSiteOptions): Promise<CrawlSiteReport> {
  if (options.collection === undefined && options.out === undefined) {
    throw new InfuseError("crawl.no_target", "a crawl needs somewhere to put the pages", {
      kind: "usage",
      hint: "pass --collection NAME (ingest) and/or --out pages.jsonl",
    });
  }
  if (options.collection !== undefined && options.ingest === undefined) {
    throw new InfuseError("crawl.no_ingest_options", "crawlSite: `ingest` options are needed with `collection`", {
      kind: "usage",
    });
  }
  const stream = crawlSource(config, options);
  const writer = options.out !== undefined ? await JsonlWriter.open(options.out) : undefined;
  const source = writer ? new Tapped(stream, writer) : stream;
  const report: CrawlSiteReport = { crawl: stream.report };
  if (options.statePath !== undefined) report.state = options.statePath;
  try {
    if (options.collection !== undefined) {
      report.ingest = await ingestSources(options.collection, source, {
        ...options.ingest!,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } else {
      for await (const unit of source) void unit;
    }
  } finally {
    await writer?.close();
  }
  if (writer) report.out = { file: writer.file, pages: writer.pages, failed: writer.failed };
  return report;
}

/** The crawl stream, each unit also written to JSONL as it passes (its syncRoot passed through). */
class Tapped implements SourceStream {
  readonly #inner: CrawlStream;
  readonly #writer: JsonlWriter;

  constructor(inner: CrawlStream, writer: JsonlWriter) {
    this.#inner = inner;
    this.#writer = writer;
  }

  get syncRoot(): string | undefined {
    return this.#inner.syncRoot;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CrawlUnit> {
    for await (const unit of this.#inner) {
      await this.#writer.write(unit);
      yield unit;
    }
  }
}

class JsonlWriter {
  pages = 0;
  readonly failed: { url: string; reason: string }[] = [];
  readonly file: string;
  readonly #out: ReturnType<typeof createWriteStream>;

  private constructor(file: string, out: ReturnType<typeof createWriteStream>) {
    this.file = file;
    this.#out = out;
  }

  static async open(file: string): Promise<JsonlWriter> {
    const resolved = path.resolve(file);
    try {
      await mkdir(path.dirname(resolved), { recursive: true });
      const out = createWriteStream(resolved);
      await once(out, "open");
      return new JsonlWriter(resolved, out);
    } catch (e) {
      throw diskError(e, resolved, "write the crawled pages");
    }
  }

  async write(unit: CrawlUnit): Promise<void> {
    let text: string;
    try {
      const bytes = await unit.bytes();
      if (unit.page.contentType === "text/html") text = new TextDecoder().decode(bytes);
      else {
        const loaded = await loadBytes(bytes, unit.page.contentType, unit.key);
        text = loaded.documents.map((d) => d.text).join("\n\n");
      }
    } catch (e) {
      // a page that cannot be read again or loaded is left out of the file; ingest reports it as failed
      if (isInfuseError(e) && e.kind === "cancelled") throw e;
      this.failed.push({ url: unit.page.url, reason: (e as Error).message });
      return;
    }
    const line = toWire({
      url: unit.page.url,
      title: unit.page.title,
      text,
      fetchedAt: unit.page.fetchedAt,
      contentType: unit.page.contentType,
    });
    this.pages++;
    if (!this.#out.write(JSON.stringify(line) + "\n")) await once(this.#out, "drain");
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.#out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}
