// URL rules of the crawl: normalisation (one spelling per page: no fragment, sorted query,
// tracking and session parameters dropped), scope (host/domain), allow/deny patterns (globs on
// the whole URL or `re:` regular expressions) and the shape of a URL for trap detection.

/** Query parameters that never change a page: trackers and session ids. */
const DROPPED = [
  /^utm_/i,
  /^(gclid|fbclid|msclkid|dclid|yclid|mc_cid|mc_eid|_ga|_gl|igshid|ref_src)$/i,
  /^(sid|sessionid|session_id|phpsessid|jsessionid|aspsessionid\w*|cfid|cftoken)$/i,
];

/** The normal form of an http(s) URL, resolved against `base`; undefined when it is not one. */
export function normalizeUrl(href: string, base?: string, dropParams: readonly string[] = []): string | undefined {
  let url: URL;
  try {
    url = new URL(href.trim(), base);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  url.hash = "";
  url.username = "";
  url.password = "";
  // ;jsessionid=… path parameters (Java servlets) are session ids too
  url.pathname = url.pathname.replace(/;(jsessionid|sid|phpsessid)=[^/?#]*/gi, "");
  const drop = new Set(dropParams.map((p) => p.toLowerCase()));
  const params = [...url.searchParams].filter(([k]) => !drop.has(k.toLowerCase()) && !DROPPED.some((r) => r.test(k)));
  params.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  url.search = new URLSearchParams(params).toString();
  return url.href;
}

/** The registrable-ish domain: the last two labels (three when the second-last is short, e.g. co.uk). */
export function siteDomain(host: string): string {
  const labels = host.split(".");
  if (labels.length <= 2 || /^\d+$/.test(labels.at(-1)!)) return host;
  const keep = labels.at(-2)!.length <= 3 && labels.at(-1)!.length === 2 ? 3 : 2;
  return labels.slice(-keep).join(".");
}

export type Scope = "same-host" | "same-domain" | "any";

/** Whether `url` is in scope of any of the start hosts. */
export function inScope(url: string, startHosts: readonly string[], scope: Scope): boolean {
  if (scope === "any") return true;
  const host = new URL(url).host;
  if (scope === "same-host") return startHosts.includes(host);
  const domain = siteDomain(new URL(url).hostname);
  return startHosts.some((h) => siteDomain(h.replace(/:\d+$/, "")) === domain);
}

/** A glob on the whole URL (`*`: any run without "/", `**`: anything, `?`: one character) or `re:PATTERN`. */
export function urlMatcher(pattern: string): (url: string) => boolean {
  if (pattern.startsWith("re:")) {
    const re = new RegExp(pattern.slice(3));
    return (url) => re.test(url);
  }
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const re = new RegExp(`^${source}$`);
  return (url) => re.test(url);
}

/** Allow/deny rules: deny wins; an empty allow list allows everything. */
export class UrlRules {
  readonly #allow: ((u: string) => boolean)[];
  readonly #deny: ((u: string) => boolean)[];

  constructor(allow: readonly string[], deny: readonly string[]) {
    this.#allow = allow.map(urlMatcher);
    this.#deny = deny.map(urlMatcher);
  }

  /** Undefined when allowed, else the rule that refused it. */
  refuse(url: string): "deny" | "allow" | undefined {
    if (this.#deny.some((m) => m(url))) return "deny";
    if (this.#allow.length > 0 && !this.#allow.some((m) => m(url))) return "allow";
    return undefined;
  }
}

/** A URL's shape for trap detection: host, path with digit runs and long ids as N, query keys. */
export function urlShape(url: string): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\d+/g, "N").replace(/[0-9a-f]{16,}/gi, "H");
  const keys = [...new Set([...u.searchParams.keys()])].sort().join("&");
  return `${u.host}${path}?${keys}`;
}
