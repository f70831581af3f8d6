// One polite HTTP GET of the crawler: a timeout per try, retries with exponential backoff that
// honour Retry-After on 429/503, redirects followed by hand (bounded, loops caught), conditional
// headers (ETag / Last-Modified), bodies capped in size and refused by type before they are read.
import { cancelledError } from "../../../core/errors.js";

export interface FetchSettings {
  userAgent: string;
  headers: Record<string, string>;
  timeoutMs: number;
  retries: number;
  retryBaseMs: number;
  maxRetryAfterMs: number;
  maxRedirects: number;
  maxBytes: number;
}

export interface FetchRequest {
  url: string;
  signal?: AbortSignal | undefined;
  etag?: string | undefined;
  lastModified?: string | undefined;
  /** Whether a body of this media type is wanted; a refused one is not read. */
  wants?: (mediaType: string) => boolean;
  /** Called before each redirect hop; a reason refuses it. */
  onRedirect?: (to: string) => string | undefined;
}

export type FetchResult =
  | {
      kind: "ok";
      url: string;
      status: number;
      mediaType: string;
      contentType: string;
      etag?: string;
      lastModified?: string;
      body: Uint8Array;
      redirects: string[];
      retries: number;
    }
  | { kind: "not_modified"; url: string; redirects: string[]; retries: number }
  | { kind: "gone"; url: string; status: number }
  | { kind: "type"; url: string; mediaType: string }
  | { kind: "refused"; url: string; reason: string; redirects: string[] }
  | { kind: "failed"; url: string; reason: string; status?: number };

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);

/** Waits `ms` unless the signal fires first (then throws `cancelled`). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError("crawl", signal.reason));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(cancelledError("crawl", signal?.reason));
    };
    signal?.addEventListener("abort", stop, { once: true });
  });
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** GET with retries and redirects. Never throws except `cancelled` when `signal` fires. */
export async function fetchPage(request: FetchRequest, settings: FetchSettings): Promise<FetchResult> {
  const redirects: string[] = [];
  let url = request.url;
  for (;;) {
    const answer = await fetchWithRetries(url, request, settings);
    if ("result" in answer) return answer.result;
    const { response, retries } = answer;
    const status = response.status;
    if (status >= 300 && status < 400 && status !== 304) {
      await response.body?.cancel();
      const location = response.headers.get("location");
      if (!location) return { kind: "failed", url, status, reason: `HTTP ${status} without a Location` };
      const next = new URL(location, url).href;
      redirects.push(url);
      if (redirects.includes(next) || next === url)
        return { kind: "failed", url, status, reason: `redirect loop (${[...redirects, next].join(" -> ")})` };
      if (redirects.length > settings.maxRedirects)
        return { kind: "failed", url, status, reason: `more than ${settings.maxRedirects} redirects (maxRedirects)` };
      const refused = request.onRedirect?.(next);
      if (refused !== undefined) return { kind: "refused", url: next, reason: refused, redirects };
      url = next;
      continue;
    }
    if (status === 304) {
      await response.body?.cancel();
      return { kind: "not_modified", url, redirects, retries };
    }
    if (status === 404 || status === 410) {
      await response.body?.cancel();
      return { kind: "gone", url, status };
    }
    if (status < 200 || status >= 300) {
      await response.body?.cancel();
      return { kind: "failed", url, status, reason: `HTTP ${status}${retries > 0 ? ` after ${retries} retries` : ""}` };
    }
    const contentType = response.headers.get("content-type") ?? "application/octet-stream";
    const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
    if (request.wants && !request.wants(mediaType)) {
      await response.body?.cancel();
      return { kind: "type", url, mediaType };
    }
    const body = await readCapped(response, settings.maxBytes, url);
    if (typeof body === "string") return { kind: "failed", url, status, reason: body };
    const etag = response.headers.get("etag");
    const lastModified = response.headers.get("last-modified");
    return {
      kind: "ok",
      url,
      status,
      mediaType,
      contentType,
      ...(etag ? { etag } : {}),
      ...(lastModified ? { lastModified } : {}),
      body,
      redirects,
      retries,
    };
  }
}

type Answer = { response: Response; retries: number } | { result: FetchResult };

async function fetchWithRetries(url: string, request: FetchRequest, settings: FetchSettings): Promise<Answer> {
  const headers: Record<string, string> = {
    "user-agent": settings.userAgent,
    accept: "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.5",
    ...settings.headers,
  };
  // the validators belong to the page at the end of any redirects: sent on every hop
  if (request.etag) headers["if-none-match"] = request.etag;
  if (request.lastModified) headers["if-modified-since"] = request.lastModified;
  for (let attempt = 0; ; attempt++) {
    if (request.signal?.aborted) throw cancelledError("crawl", request.signal.reason);
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let wait: number;
    let reason: string;
    try {
      const response = await fetch(url, { headers, redirect: "manual", signal });
      if (!RETRY_STATUS.has(response.status)) return { response, retries: attempt };
      await response.body?.cancel();
      reason = `HTTP ${response.status}`;
      const after = retryAfterMs(response.headers.get("retry-after"));
      if (after !== undefined && after > settings.maxRetryAfterMs)
        return {
          result: {
            kind: "failed",
            url,
            status: response.status,
            reason: `${reason} with Retry-After ${Math.round(after / 1000)} s (over maxRetryAfterMs)`,
          },
        };
      wait = after ?? settings.retryBaseMs * 2 ** attempt;
    } catch (e) {
      if (request.signal?.aborted) throw cancelledError("crawl", request.signal.reason);
      reason = timeout.aborted ? `no answer in ${settings.timeoutMs} ms (timeoutMs)` : networkReason(e);
      wait = settings.retryBaseMs * 2 ** attempt;
    }
    if (attempt >= settings.retries)
      return {
        result: { kind: "failed", url, reason: attempt > 0 ? `${reason} after ${attempt} retries` : reason },
      };
    await sleep(wait, request.signal);
  }
}

function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

/** The body, or a reason when it is larger than `max` bytes (announced or read). */
async function readCapped(response: Response, max: number, url: string): Promise<Uint8Array | string> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  const tooLarge = `larger than ${max} bytes (maxPageBytes)`;
  if (declared > max) {
    await response.body?.cancel();
    return tooLarge;
  }
  if (!response.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const part of response.body as AsyncIterable<Uint8Array>) {
      size += part.byteLength;
      if (size > max) {
        await response.body.cancel().catch(() => {});
        return tooLarge;
      }
      parts.push(part);
    }
  } catch (e) {
    return `${url}: body cut off (${networkReason(e)})`;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
