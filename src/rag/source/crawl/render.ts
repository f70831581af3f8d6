// Pages that need JavaScript: headless chromium through playwright-core (never a downloaded
// browser: the system's chromium, `chromiumPath`). One browser per crawl, one tab per page.
import { InfuseError } from "../../../core/errors.js";

export interface Renderer {
  render(url: string): Promise<string>;
  close(): Promise<void>;
}

export interface RenderSettings {
  chromiumPath: string;
  userAgent: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export async function startRenderer(settings: RenderSettings): Promise<Renderer> {
  const { chromium } = await import("playwright-core");
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: settings.chromiumPath,
      headless: true,
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
  } catch (e) {
    throw new InfuseError("crawl.no_browser", `cannot start chromium at ${settings.chromiumPath} for render: true`, {
      kind: "usage",
      hint: "install chromium (Debian: apt-get install chromium), set chromiumPath in the crawl config, or set render: false",
      cause: e,
    });
  }
  const context = await browser.newContext({ userAgent: settings.userAgent, extraHTTPHeaders: settings.headers });
  return {
    async render(url) {
      const page = await context.newPage();
      try {
        await page.goto(url, { waitUntil: "networkidle", timeout: settings.timeoutMs });
        return await page.content();
      } finally {
        await page.close();
      }
    },
    async close() {
      await browser.close();
    },
  };
}
