// The HTTP plumbing shared by the OpenAI-compatible and Ollama clients (chat and embeddings):
// POST JSON with errors that name the URL, and line readers for SSE and NDJSON bodies.
// Rate limits and overloaded servers (429/502/503/504) are retried; other failures are not.
import { cancelledError, InfuseError } from "../../core/errors.js";

export interface PostJsonOptions {
  /** Error-code area: "llm" or "embed". */
  area: string;
  /** What is called, for messages, e.g. "OpenAI-compatible chat". */
  what: string;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** The fix to suggest when the host cannot be reached (e.g. which env variable sets the URL). */
  unreachableHint: string;
  /** The fix to suggest on 401/403 (the API key). */
  authHint: string;
  /** The fix to suggest on 404 (usually: the model name). */
  notFoundHint?: string;
  /** Retries after 429/502/503/504; default 3. */
  retries?: number;
}

/** Statuses that mean "not now": rate limits and overloaded or restarting servers. */
const RETRY_STATUS = new Set([429, 502, 503, 504]);

/**
 * POSTs `body` as JSON; returns the response when it is 2xx, else throws an InfuseError.
 * 429/502/503/504 are retried (`retries` times, default 3) after Retry-After or a doubling pause.
 */
export async function postJson(url: string, body: unknown, options: PostJsonOptions): Promise<Response> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const response = await send(url, body, options);
    if (response.ok) return response;
    if (attempt >= retries || !RETRY_STATUS.has(response.status)) throw await httpFailure(url, response, options);
    await response.body?.cancel();
    await sleep(retryDelayMs(response.headers.get("retry-after"), attempt), options.signal, `${options.what} retry`);
  }
}

async function send(url: string, body: unknown, options: PostJsonOptions): Promise<Response> {
  try {
    return await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...options.headers },
      body: JSON.stringify(body),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (e) {
    if (options.signal?.aborted) throw cancelledError(`${options.what} request to ${url}`, e);
    const why = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new InfuseError(`${options.area}.unreachable`, `cannot reach ${options.what} at ${url} (${why})`, {
      kind: "network",
      hint: options.unreachableHint,
      cause: e,
      details: { url },
    });
  }
}

async function httpFailure(url: string, response: Response, options: PostJsonOptions): Promise<InfuseError> {
  const text = await response.text().catch(() => "");
  const serverMessage = errorMessageFrom(text);
  const status = response.status;
  const auth = status === 401 || status === 403;
  const hint = auth
    ? options.authHint
    : status === 404 && options.notFoundHint
      ? options.notFoundHint
      : status === 429
        ? "the server is rate-limiting this key; wait and retry, or send smaller batches (batchSize)"
        : status >= 500
          ? `the server at ${new URL(url).origin} failed; check its logs, then retry`
          : "check the request settings (model name, parameters) against what the server supports";
  return new InfuseError(
    auth ? `${options.area}.unauthorized` : `${options.area}.http_error`,
    `${options.what} at ${url} answered HTTP ${status}${serverMessage ? `: ${serverMessage}` : ""}`,
    { kind: "network", hint, details: { url, status, body: text.slice(0, 2000) } },
  );
}

/** Retry-After (seconds or an HTTP date), capped at a minute; else 0.5 s, 1 s, 2 s, … */
export function retryDelayMs(retryAfter: string | null, attempt: number, now = Date.now()): number {
  if (retryAfter !== null && retryAfter.trim() !== "") {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), 60_000);
  }
  return Math.min(500 * 2 ** attempt, 8_000);
}

function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError(what, signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError(what, signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The error text of an OpenAI (`{error:{message}}`) or Ollama (`{error:"..."}`) error body. */
export function errorMessageFrom(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown };
    const err = json.error;
    if (typeof err === "string") return err;
    if (err && typeof err === "object" && typeof (err as { message?: unknown }).message === "string") {
      return (err as { message: string }).message;
    }
    if (typeof json.message === "string") return json.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim().slice(0, 300);
}

/** Reads a JSON response body, turning a malformed one into an error that names the URL. */
export async function readJson<T>(response: Response, url: string, area: string): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw badResponse(url, area, `the body is not JSON: ${text.slice(0, 200)}`, e);
  }
}

export function badResponse(url: string, area: string, why: string, cause?: unknown): InfuseError {
  return new InfuseError(`${area}.bad_response`, `unexpected response from ${url}: ${why}`, {
    kind: "network",
    hint: "check that the URL points at an OpenAI-compatible or Ollama server of a supported version",
    cause,
    details: { url },
  });
}

/** Splits a streamed body into lines (without the line ending). */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
    }
  }
  buffer += decoder.decode();
  if (buffer.length > 0) yield buffer.replace(/\r$/, "");
}

/** The `data:` payloads of a server-sent-events body, one per event. */
export async function* readSseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let data: string[] = [];
  for await (const line of readLines(body)) {
    if (line === "") {
      if (data.length > 0) yield data.join("\n");
      data = [];
    } else if (line.startsWith("data:")) {
      data.push(line.slice(5).replace(/^ /, ""));
    }
    // comments (":") and other fields (event:, id:, retry:) are not used by these APIs
  }
  if (data.length > 0) yield data.join("\n");
}

/** Joins a base URL and a path without doubling or dropping slashes. */
export function joinUrl(base: string, pathname: string): string {
  return `${base.replace(/\/+$/, "")}/${pathname.replace(/^\/+/, "")}`;
}

/** Maps a failure while reading a stream: abort → cancelled; a dropped connection → network. */
export function streamFailure(e: unknown, url: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return cancelledError(`generation from ${url}`, e);
  if (e instanceof InfuseError) return e;
  return new InfuseError("llm.stream_interrupted", `the stream from ${url} broke off: ${(e as Error).message}`, {
    kind: "network",
    hint: "the server closed the connection; check that it is still running and retry",
    cause: e,
    details: { url },
  });
}
