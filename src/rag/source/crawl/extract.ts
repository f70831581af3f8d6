// A fetched HTML page → its links, canonical URL, title and main content as Markdown. The main
// content is the `select` selectors' elements, else what @mozilla/readability (over linkedom)
// finds; `exclude` selectors are dropped first; `searchContents` keeps only the listed elements.
// The Markdown comes from the HTML loader's converter (load/html.ts), so headings survive.
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import { htmlToMarkdown } from "../../load/html.js";
import type { SearchContent } from "./config.js";
import { normalizeUrl } from "./url.js";

export interface ExtractSettings {
  select?: string[] | undefined;
  searchContents: readonly SearchContent[];
  exclude: readonly string[];
  dropParams: readonly string[];
  /** Also list `<img src>` (images whose text OCR reads). */
  followImages?: boolean | undefined;
}

export interface ExtractedPage {
  title: string;
  /** Main content as Markdown, with the title as its first heading. */
  markdown: string;
  /** Normalised absolute links, in page order, without duplicates. */
  links: string[];
  canonical: string | undefined;
  /** `<meta name="robots">` asked not to index this page / not to follow its links. */
  noindex: boolean;
  nofollow: boolean;
}

type Doc = ReturnType<typeof parseHTML>["document"];
type El = ReturnType<Doc["querySelectorAll"]>[number];

export function extractPage(html: string, url: string, settings: ExtractSettings): ExtractedPage {
  const { document } = parseHTML(html);
  const base = normalizeUrl(document.querySelector("base[href]")?.getAttribute("href") ?? "", url) ?? url;
  const robots = (document.querySelector('meta[name="robots" i]')?.getAttribute("content") ?? "").toLowerCase();
  const nofollow = /\b(nofollow|none)\b/.test(robots);
  const links = new Set<string>();
  if (!nofollow) {
    for (const a of document.querySelectorAll("a[href]")) {
      if (/\bnofollow\b/i.test(a.getAttribute("rel") ?? "")) continue;
      const href = normalizeUrl(a.getAttribute("href") ?? "", base, settings.dropParams);
      if (href) links.add(href);
    }
    if (settings.followImages) {
      for (const img of document.querySelectorAll("img[src]")) {
        const src = normalizeUrl(img.getAttribute("src") ?? "", base, settings.dropParams);
        if (src) links.add(src);
      }
    }
  }
  const canonicalHref = document.querySelector('link[rel="canonical" i][href]')?.getAttribute("href");
  const canonical = canonicalHref ? normalizeUrl(canonicalHref, base, settings.dropParams) : undefined;
  const title = (document.querySelector("title")?.textContent ?? "").trim().replace(/\s+/g, " ");
  for (const selector of settings.exclude) for (const el of document.querySelectorAll(selector)) el.remove();
  let main = mainContent(document, settings.select);
  if (settings.searchContents.length > 0) main = keepListed(main, settings.searchContents);
  let markdown = htmlToMarkdown(`<html><body><main>${main}</main></body></html>`).markdown;
  const heading = title || url;
  if (markdown.length > 0 && !/^#\s/.test(markdown)) markdown = `# ${heading}\n\n${markdown}`;
  return {
    title: heading,
    markdown,
    links: [...links],
    canonical,
    noindex: /\b(noindex|none)\b/.test(robots),
    nofollow,
  };
}

/** The main content's HTML: the selected elements, else Readability's article, else the body. */
function mainContent(document: Doc, select: string[] | undefined): string {
  if (select && select.length > 0) {
    const picked: El[] = [];
    for (const selector of select)
      for (const el of document.querySelectorAll(selector)) if (!picked.some((p) => p.contains(el))) picked.push(el);
    return picked.map((el) => el.outerHTML).join("\n");
  }
  const body = document.body?.innerHTML ?? "";
  try {
    const article = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0], {
      keepClasses: true,
    }).parse();
    if (article?.content) return article.content;
  } catch {
    // Readability gives up on some documents: the body (with the HTML loader's boilerplate removal) stands in
  }
  return body;
}

/** Only the elements the `{tag, class, style}` entries name, in document order, outermost first. */
function keepListed(html: string, entries: readonly SearchContent[]): string {
  const { document } = parseHTML(`<!doctype html><html><body>${html}</body></html>`);
  const out: string[] = [];
  let last: El | undefined;
  for (const el of document.querySelectorAll("body *")) {
    if (last?.contains(el)) continue;
    if (!entries.some((e) => matches(el, e))) continue;
    last = el;
    out.push(el.tagName.toLowerCase() === "li" ? `<ul>${el.outerHTML}</ul>` : el.outerHTML);
  }
  return out.join("\n").replace(/<\/ul>\n<ul>/g, ""); // neighbouring items stay one list
}

const squash = (s: string) => s.replace(/\s+/g, "").toLowerCase();

function matches(el: El, entry: SearchContent): boolean {
  if (el.tagName.toLowerCase() !== entry.tag.toLowerCase()) return false;
  if (entry.class) {
    const have = new Set((el.getAttribute("class") ?? "").split(/\s+/));
    if (
      !entry.class
        .split(/\s+/)
        .filter(Boolean)
        .every((c) => have.has(c))
    )
      return false;
  }
  if (entry.style && !squash(el.getAttribute("style") ?? "").includes(squash(entry.style))) return false;
  return true;
}
