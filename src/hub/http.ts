// HTTP for hub/: one exchange follows its redirects itself, so the token reaches only the
// hub's own origin, and every wait (for headers, for each body chunk) is bounded by an idle
// timeout. Retries and what a status means are the callers' business.
import { DEFAULT_LIMITS } from "../core/limits.js";
import { InfuseError } from "../core/errors.js";

export interface HubHttp {
  /** Headers to send to `url`: the token only when `url` is on the hub's origin. */
  headersFor(url: string): Record<string, string>;
  /** No byte for this long fails the exchange with `hub.timeout` (`limits.downloadTimeoutMs`). */
  timeoutMs: number;
}

/** No credentials, the default idle timeout: for downloads from a URL outside any hub. */
export const PLAIN_HTTP: HubHttp = {
  headersFor: () => ({}),
  timeoutMs: DEFAULT_LIMITS.downloadTimeoutMs,
};

export interface SendInit {
  method?: "GET" | "HEAD";
  /** Extra headers for every hop (e.g. Range). */
  headers?: Record<string, string>;
  /** Redirects to follow; 0 returns a 3xx as it is. */
  redirects?: number;
}

export interface Exchange {
  response: Response;
  /** The URL that answered, after redirects. */
  url: string;
  /** The next body chunk, or undefined at the end; each wait is bounded by the idle timeout. */
  read(): Promise<Uint8Array | undefined>;
  /** Ends the exchange: stops the timer and drops an unread body. Call it always. */
  close(): Promise<void>;
}

const MAX_REDIRECTS = 5;

/**
 * Sends one request. Errors: `hub.timeout` (InfuseError) when the server goes quiet,
 * `hub.redirect_loop` past the redirect limit; a failed connection or a fired `signal`
 * rejects with fetch's own error, for the caller to name.
 */
export async function send(url: string, init: SendInit, http: HubHttp, signal?: AbortSignal): Promise<Exchange> {
  const controller = new AbortController();
  let timedOut = false;
  let current = url;
  // the clock runs only while we wait on the server, not while the caller writes a chunk
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, http.timeoutMs);
  };
  const disarm = () => clearTimeout(timer);
  const forward = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", forward, { once: true });
  if (signal?.aborted) forward();
  const stop = () => {
    disarm();
    signal?.removeEventListener("abort", forward);
  };
  const fail = (e: unknown): unknown => (timedOut && !signal?.aborted ? timeoutError(current, http.timeoutMs, e) : e);
  try {
    const limit = init.redirects ?? MAX_REDIRECTS;
    let response: Response;
    for (let hops = 0; ; hops++) {
      arm();
      response = await fetch(current, {
        method: init.method ?? "GET",
        headers: { ...http.headersFor(current), ...init.headers },
        redirect: "manual",
        signal: controller.signal,
      });
      const location = response.headers.get("location");
      if (!isRedirect(response.status) || !location || limit === 0) break;
      await response.body?.cancel().catch(() => {});
      if (hops >= limit) throw redirectLoop(url);
      current = new URL(location, current).href;
    }
    disarm();
    const reader = response.body?.getReader();
    const exchange: Exchange = {
      response,
      url: current,
      read: async () => {
        if (!reader) return undefined;
        arm();
        try {
          const chunk = await reader.read();
          return chunk.done ? undefined : chunk.value;
        } catch (e) {
          throw fail(e);
        } finally {
          disarm();
        }
      },
      close: async () => {
        stop();
        await reader?.cancel().catch(() => {});
      },
    };
    return exchange;
  } catch (e) {
    stop();
    throw fail(e);
  }
}

export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

export function redirectLoop(url: string): InfuseError {
  return new InfuseError("hub.redirect_loop", `${url}: too many redirects`, {
    kind: "network",
    hint: "check HF_ENDPOINT",
    details: { url },
  });
}

function timeoutError(url: string, ms: number, cause: unknown): InfuseError {
  return new InfuseError("hub.timeout", `${url}: no answer for ${ms} ms (limits.downloadTimeoutMs)`, {
    kind: "network",
    hint:
      "the server stopped sending; run the command again (a download resumes where it stopped), check HF_ENDPOINT, " +
      "or raise limits.downloadTimeoutMs in infuse.config.json for a slow link",
    cause,
    details: { url, limit: "limits.downloadTimeoutMs", value: ms },
  });
}
