// `infuse crawl init URL [--out crawl.json]` writes a commented starting config after reading the
// site's robots.txt and sitemaps; `infuse crawl --config crawl.json [--collection NAME] [--out
// pages.jsonl] [--resume] [--state FILE]` crawls it into a collection and/or JSONL (crawlSite).
// Here --config names the crawl config: the program's -c/--config flag would take it anyway, so
// the infuse config comes from INFUSE_CONFIG or ./infuse.config.json.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { loadConfig } from "../../core/config.js";
import { diskError, InfuseError } from "../../core/errors.js";
import { limitsOf } from "../../core/limits.js";
import type { ProgressEvent } from "../../core/progress.js";
import { DEFAULT_EMBEDDER_SPEC, resolveEmbedder } from "../../rag/pipeline/models.js";
import {
  crawlInit,
  crawlSite,
  defaultStatePath,
  readCrawlConfig,
  type CrawlInitResult,
  type CrawlSiteReport,
} from "../../rag/source/crawl/index.js";
import { storeProvider } from "../../rag/store/index.js";
import type { RegisterCommand } from "../runtime.js";
import { renderIngest, resolveIngestFlags } from "./ingest.js";

interface CrawlFlags {
  config?: string;
  collection?: string;
  out?: string;
  resume?: boolean;
  state?: string;
}

export const registerCrawl: RegisterCommand = (program, run) => {
  const crawl = program
    .command("crawl")
    .description("crawl a website into a collection and/or JSONL, as a crawl config describes")
    .option("--config <file>", "the crawl config (write one with `infuse crawl init URL`)")
    .option("--collection <name>", "ingest the pages into this collection")
    .option("--out <file>", "write the pages as JSONL ({url, title, text, fetched_at, content_type})")
    .option("--resume", "continue the crawl that was stopped (Ctrl-C) instead of starting over")
    .option("--state <file>", "the crawl state file (default: next to the collection, or to --out)")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse crawl init https://docs.example.com --out crawl.json\n" +
        "  infuse crawl --config crawl.json --collection docs\n" +
        "  infuse crawl --config crawl.json --out pages.jsonl\n" +
        "  infuse crawl --config crawl.json --collection docs --resume   # after Ctrl-C\n" +
        "\nA later crawl with the same config asks with ETag / Last-Modified, updates only changed pages\n" +
        "and removes pages that are gone. The infuse config (store, embedder, ingest settings) comes\n" +
        "from INFUSE_CONFIG or ./infuse.config.json. Config keys: docs/crawling.md.",
    )
    .action(
      run(async (rt, flags: CrawlFlags) => {
        // the program's -c/--config takes the value wherever it stands: here it is the crawl config
        const file = flags.config ?? program.opts<{ config?: string }>().config;
        if (file === undefined) {
          throw new InfuseError("crawl.no_config", "infuse crawl needs --config FILE", {
            kind: "usage",
            hint: "write one with: infuse crawl init URL --out crawl.json",
          });
        }
        const config = await loadConfig();
        const crawlConfig = await readCrawlConfig(file);
        const statePath = flags.state ?? defaultStatePath({ ...flags, dataDir: config.dataDir });
        const bars = rt.out.progress();
        const progress = (e: ProgressEvent) => bars(e.total === undefined ? { ...e, total: e.done } : e);
        let report: CrawlSiteReport;
        const common = {
          statePath,
          resume: flags.resume === true,
          limits: limitsOf(config),
          signal: rt.signal,
          onProgress: progress,
          out: flags.out,
        };
        try {
          if (flags.collection === undefined) report = await crawlSite(crawlConfig, common);
          else {
            const store = storeProvider(config);
            const settings = resolveIngestFlags({}, config, await store.manifest(flags.collection));
            const embedder = await resolveEmbedder(settings.embedderSpec ?? DEFAULT_EMBEDDER_SPEC, {
              config,
              signal: rt.signal,
            });
            try {
              report = await crawlSite(crawlConfig, {
                ...common,
                collection: flags.collection,
                ingest: { ...settings, dataDir: config.dataDir, store, embedder, limits: limitsOf(config) },
              });
            } finally {
              await embedder.dispose?.();
            }
          }
        } finally {
          bars.done();
        }
        rt.out.result(report, renderCrawl);
      }),
    );

  crawl
    .command("init")
    .argument("<url>", "the site's start URL")
    .description("write a commented starting crawl config after reading robots.txt and the sitemaps")
    .option("--out <file>", "where to write it (default: crawl.json)")
    .option("--force", "overwrite an existing file")
    .action(
      run(async (rt, url: string, flags: { out?: string; force?: boolean }) => {
        const bars = rt.out.progress();
        let result: CrawlInitResult;
        try {
          result = await crawlInit(url, { signal: rt.signal, onProgress: bars });
        } finally {
          bars.done();
        }
        // `crawl` has its own --out, which commander fills first
        const file = path.resolve(flags.out ?? crawl.opts<CrawlFlags>().out ?? "crawl.json");
        try {
          await writeFile(file, result.text, { flag: flags.force ? "w" : "wx" });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EEXIST")
            throw new InfuseError("crawl.config_exists", `${file} exists`, {
              kind: "usage",
              hint: "pass --force to overwrite it, or --out another file",
            });
          throw diskError(e, file, "write the crawl config");
        }
        rt.out.result({ file, ...result.summary }, () => renderInit(file, result));
      }),
    );
};

function renderInit(file: string, { summary: s }: CrawlInitResult): string {
  const lines = [`wrote ${file}`];
  lines.push(
    s.robots.found
      ? `robots.txt: ${s.robots.disallow.length} disallowed path(s)${s.robots.disallow.length ? `: ${s.robots.disallow.slice(0, 8).join(", ")}` : ""}${s.robots.crawlDelay !== undefined ? `; crawl-delay ${s.robots.crawlDelay} s` : ""}`
      : `robots.txt: none${s.robots.note ? ` (${s.robots.note})` : ""}`,
  );
  if (s.sitemaps.files.length === 0) lines.push("sitemaps: none found");
  else {
    lines.push(`sitemaps: ${s.sitemaps.files.length} file(s), ${s.sitemaps.urls} URLs`);
    for (const f of s.sitemaps.topFolders) lines.push(`  ${f.folder.padEnd(30)} ${f.urls}`);
  }
  for (const n of s.notes) lines.push(`note: ${n}`);
  lines.push(`next: edit it, then infuse crawl --config ${path.basename(file)} --collection NAME`);
  return lines.join("\n");
}

export function renderCrawl(r: CrawlSiteReport): string {
  const c = r.crawl;
  const skipped = Object.entries(c.skipped).map(([rule, n]) => `${rule} ${n}`);
  const lines = [
    `crawl ${c.complete ? "complete" : "stopped early"}: ${c.fetched} fetched, ${c.unchanged} unchanged (304), ${c.pages} pages kept`,
    `skipped by rule: ${skipped.length > 0 ? skipped.join(", ") : "none"}`,
    `robots.txt disallowed: ${c.robotsDisallowed.length}`,
  ];
  for (const t of c.traps) lines.push(`trap: ${t.shape} (${t.skipped} URLs not followed; maxPerPattern)`);
  if (c.gone.length > 0) lines.push(`gone (${c.gone.length}): ${c.gone.slice(0, 10).join(", ")}`);
  if (c.failed.length > 0)
    lines.push(`failed (${c.failed.length}):`, ...c.failed.slice(0, 20).map((f) => `  ${f.url}: ${f.reason}`));
  for (const n of c.notes) lines.push(`note: ${n}`);
  if (!c.complete && (c.skipped.maxPages ?? 0) > 0) lines.push("maxPages reached: raise it to crawl the rest");
  if (r.ingest) lines.push(renderIngest(r.ingest));
  if (r.out) lines.push(`wrote ${r.out.pages} pages to ${r.out.file}`);
  if (r.state) lines.push(`state: ${r.state}`);
  return lines.join("\n");
}
