// HTML to Markdown of the main content: navigation, headers/footers, scripts and forms are
// removed (cheerio), the rest converted with turndown so headings survive for splitting.
// No readability scoring: <main>/<article>/[role=main] win, else the whole <body>.
import * as cheerio from "cheerio";
import TurndownService from "turndown";

const BOILERPLATE = [
  "script",
  "style",
  "noscript",
  "template",
  "iframe",
  "svg",
  "nav",
  "header",
  "footer",
  "aside",
  "form",
  "[role=navigation]",
  "[role=banner]",
  "[role=contentinfo]",
  "[role=complementary]",
  "[aria-hidden=true]",
  ".nav",
  ".navbar",
  ".menu",
  ".sidebar",
  ".breadcrumb",
  ".cookie",
  "#cookie-banner",
].join(",");

let turndown: TurndownService | undefined;

export function htmlToMarkdown(html: string): { markdown: string; title: string | undefined } {
  const $ = cheerio.load(html);
  const title = $("title").first().text().trim() || undefined;
  const main = $("main, article, [role=main]").first();
  const root = main.length > 0 ? main : $("body");
  root.find(BOILERPLATE).remove();
  turndown ??= new TurndownService({ headingStyle: "atx", codeBlockStyle: "fenced", bulletListMarker: "-" });
  const markdown = turndown
    .turndown(root.html() ?? "")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  return { markdown, title };
}
