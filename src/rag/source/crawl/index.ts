// The crawler source: config (config.ts), the stream (crawler.ts), `crawl init` (init.ts) and
// crawlSite (run.ts: the stream into a collection and/or JSONL).
export {
  CrawlConfigSchema,
  crawlConfig,
  readCrawlConfig,
  stripJsonComments,
  DEFAULT_SEARCH_CONTENTS,
  type CrawlConfig,
  type CrawlConfigInput,
  type SearchContent,
} from "./config.js";
export {
  crawlSource,
  CrawlStream,
  type CrawlOptions,
  type CrawlReport,
  type CrawlUnit,
  type CrawledPage,
  type SkipRule,
} from "./crawler.js";
export { crawlInit, type CrawlInitResult, type CrawlInitSummary } from "./init.js";
export { crawlSite, defaultStatePath, type CrawlSiteOptions, type CrawlSiteReport } from "./run.js";
export { normalizeUrl, urlMatcher } from "./url.js";
