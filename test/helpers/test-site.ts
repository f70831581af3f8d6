// A made-up website served by a real HTTP server on 127.0.0.1 for crawler tests: pages with nav and
// footer boilerplate, robots.txt (a disallowed folder, a crawl-delay, the sitemap), a sitemap, a
// redirect chain and a loop, a 429 with Retry-After, an endless calendar, a PDF (pdf-lib), an
// image, a page whose text only JavaScript writes, canonical and duplicate pages. Every response
// has an ETag and honours If-None-Match; `set`/`remove` change the site between crawls.
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { makePdf } from "../../examples/make-sample-docs.js";

export interface SiteRequest {
  path: string;
  status: number;
  ifNoneMatch?: string;
  userAgent?: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, site: TestSite) => void;

export interface TestSite {
  origin: string;
  requests: SiteRequest[];
  /** How often `path` (with query) was asked for. */
  hits(path: string): number;
  /** Serves `body` (HTML unless `type` says) at `path`, replacing what was there. */
  set(path: string, body: string | Uint8Array, type?: string): void;
  remove(path: string): void;
  /** Called on every request before it is answered (e.g. to abort a crawl midway). */
  onRequest?: ((path: string) => void) | undefined;
  close(): Promise<void>;
}

/** A page with the site's nav and footer around `main`. */
export function page(title: string, main: string, head = ""): string {
  return `<!doctype html><html><head><title>${title}</title>${head}</head><body>
<nav class="site-nav"><a href="/">Home</a> <a href="/guide/tides">Tides</a> <a href="/about">About</a> NAVTEXT menu</nav>
<div class="cookie-banner">COOKIETEXT we use cookies</div>
<main>${main}</main>
<footer>FOOTERTEXT copyright the tide society <a href="/about">About</a></footer>
</body></html>`;
}

const para = (s: string) =>
  `<p>${s} This sentence is here so that the paragraph is long enough to count as real content for a reader.</p>`;

export async function startTestSite(options: { pages?: number } = {}): Promise<TestSite> {
  const bodies = new Map<string, { body: Uint8Array; type: string }>();
  const handlers = new Map<string, Handler>();
  const requests: SiteRequest[] = [];
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const busy = new Map<string, number>();

  const site: TestSite = {
    origin: "",
    requests,
    hits: (p) => requests.filter((r) => r.path === p).length,
    set: (p, body, type = "text/html; charset=utf-8") =>
      bodies.set(p, { body: typeof body === "string" ? utf8(body) : body, type }),
    remove: (p) => void bodies.delete(p),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a /slow answer still pending must not hold the test
      }),
  };

  const server = http.createServer((req, res) => {
    const p = req.url ?? "/";
    const log = (status: number) =>
      requests.push({
        path: p,
        status,
        ...(req.headers["if-none-match"] ? { ifNoneMatch: String(req.headers["if-none-match"]) } : {}),
        ...(req.headers["user-agent"] ? { userAgent: req.headers["user-agent"] } : {}),
      });
    site.onRequest?.(p);
    const handler = handlers.get(p.split("?")[0]!);
    if (handler) {
      res.on("finish", () => log(res.statusCode));
      return handler(req, res, site);
    }
    const found = bodies.get(p) ?? bodies.get(p.split("?")[0]!);
    if (!found) {
      log(404);
      res.writeHead(404, { "content-type": "text/html" }).end("<h1>not found</h1>");
      return;
    }
    const etag = `"${createHash("sha1").update(found.body).digest("hex").slice(0, 16)}"`;
    if (req.headers["if-none-match"] === etag) {
      log(304);
      res.writeHead(304, { etag }).end();
      return;
    }
    log(200);
    res.writeHead(200, { "content-type": found.type, etag, "content-length": found.body.byteLength }).end(found.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  site.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const o = site.origin;

  site.set(
    "/robots.txt",
    `User-agent: *\nDisallow: /private/\nCrawl-delay: 0.002\n\nSitemap: ${o}/sitemap.xml\n`,
    "text/plain",
  );
  site.set(
    "/sitemap.xml",
    `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` +
      `<url><loc>${o}/</loc></url><url><loc>${o}/guide/tides</loc></url><url><loc>${o}/orphan</loc></url></urlset>`,
    "application/xml",
  );
  site.set(
    "/",
    page(
      "Tide Society",
      `<h1>Welcome to the Tide Society</h1>${para("We study the tides of the northern sea.")}
<ul><li><a href="/guide/tides">Tides</a></li><li><a href="/guide/moon?utm_source=news&amp;sessionid=abc123">The moon</a></li>
<li><a href="/guide/moon?sessionid=zzz">The moon again</a></li><li><a href="/private/secret">Members</a></li>
<li><a href="/old">Old page</a></li><li><a href="/busy">Busy page</a></li><li><a href="/calendar/2026/1">Calendar</a></li>
<li><a href="/files/report.pdf">Annual report</a></li><li><a href="/logo.png">Logo</a></li><li><a href="/loop-a">Loop</a></li>
<li><a href="/copy">Copy</a></li><li><a href="/print/tides">Print view</a></li><li><a href="http://example.invalid/x">Elsewhere</a></li></ul>`,
    ),
  );
  site.set(
    "/guide/tides",
    page(
      "Tides",
      `<h1>Tides</h1>${para("Tides are the rise and fall of the sea caused by the moon.")}
<h2>Spring tides</h2>${para("Spring tides are the largest tides, at new and full moon.")}
<h2>Neap tides</h2>${para("Neap tides are the smallest tides, at the quarter moons.")}`,
    ),
  );
  site.set("/guide/moon", page("The moon", `<h1>The moon</h1>${para("The moon pulls the water of the oceans.")}`));
  site.set("/about", page("About", `<h1>About us</h1>${para("The society was founded by lighthouse keepers.")}`));
  site.set("/orphan", page("Orphan", `<h1>Orphan page</h1>${para("Only the sitemap links to this quiet page.")}`));
  site.set("/private/secret", page("Secret", `<h1>Secret</h1>${para("Members only: PRIVATETEXT.")}`));
  site.set("/guide/final", page("Final", `<h1>Final stop</h1>${para("The redirect chain ends at this page.")}`));
  // the same content as /guide/moon at another URL (content-hash dedupe)
  site.set("/copy", page("The moon", `<h1>The moon</h1>${para("The moon pulls the water of the oceans.")}`));
  // a print view naming the tides page as canonical
  site.set(
    "/print/tides",
    page(
      "Tides (print)",
      `<h1>Tides print</h1>${para("Printable tides.")}`,
      `<link rel="canonical" href="${o}/guide/tides">`,
    ),
  );
  site.set("/logo.png", new Uint8Array([0x89, 0x50, 0x4e, 0x47]), "image/png");
  site.set(
    "/files/report.pdf",
    await makePdf([["Annual report of the Tide Society.", "PDFTEXT: the highest tide was 7.2 metres."]]),
    "application/pdf",
  );
  site.set(
    "/js-only",
    `<!doctype html><html><head><title>Dynamic</title></head><body><main id="app"></main><script>
document.getElementById("app").innerHTML = "<h1>Rendered</h1><p>JSTEXT: this paragraph exists only after the script ran, and it is long enough to be content.</p>";
</script></body></html>`,
  );
  for (let i = 0; i < (options.pages ?? 0); i++) {
    const next = i + 1 < (options.pages ?? 0) ? `<a href="/list/${i + 1}">next</a>` : "";
    site.set(`/list/${i}`, page(`List ${i}`, `<h1>Item ${i}</h1>${para(`Item number ${i} of the list.`)}${next}`));
  }

  const redirect =
    (to: string, status = 301): Handler =>
    (_req, res) =>
      res.writeHead(status, { location: to }).end();
  handlers.set("/old", redirect("/mid"));
  handlers.set("/mid", redirect(`${o}/guide/final`, 302));
  handlers.set("/away", redirect("http://example.invalid/landing", 302));
  handlers.set("/loop-a", redirect("/loop-b"));
  handlers.set("/loop-b", redirect("/loop-a"));
  site.set("/notes", "plain text notes, not a page", "text/plain; charset=utf-8");
  site.set("/big", page("Big", `<h1>Big</h1>${para("x".repeat(200_000))}`));
  // answers only after a long pause (a timeout), unless the client gave up first
  handlers.set("/slow", (_req, res) => {
    const timer = setTimeout(
      () => res.writeHead(200, { "content-type": "text/html" }).end(page("Slow", "<p>late</p>")),
      5000,
    );
    res.on("close", () => clearTimeout(timer));
  });
  handlers.set("/busy", (req, res) => {
    const n = (busy.get("/busy") ?? 0) + 1;
    busy.set("/busy", n);
    if (n === 1) return res.writeHead(429, { "retry-after": "0" }).end("slow down");
    res
      .writeHead(200, { "content-type": "text/html" })
      .end(page("Busy", `<h1>Busy page</h1>${para("BUSYTEXT came after a 429 and a retry.")}`));
  });
  // an endless calendar: each month links to the next (a trap bounded by maxPerPattern / maxDepth)
  server.prependListener("request", (req: http.IncomingMessage) => {
    const m = /^\/calendar\/(\d+)\/(\d+)$/.exec(req.url ?? "");
    if (!m) return;
    const [y, mo] = [Number(m[1]), Number(m[2])];
    const next = mo === 12 ? `/calendar/${y + 1}/1` : `/calendar/${y}/${mo + 1}`;
    site.set(
      req.url!,
      page(
        `Calendar ${y}-${mo}`,
        `<h1>Events ${y}-${mo}</h1><p>No events this month ${y}-${mo}.</p><a href="${next}">next month</a>`,
      ),
    );
  });
  return site;
}
