// The UI's only door to the server: JSON calls, uploads with progress, and server-sent events
// read from fetch streams (so the API key header goes along). No HTML is ever built from replies.
import type { JobEvent, JobRecord } from "../jobs/types.js";

export type { JobEvent, JobRecord };

const KEY = "infuse.apiKey";

export function apiKey(): string {
  try {
    return localStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

export function setApiKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY, key);
    else localStorage.removeItem(KEY);
  } catch {
    // private mode: the key lives only for this page
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = apiKey();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

/** A failed call, with the server's message (OpenAI's `{error:{message}}` or infuse's `{error:{code,message,hint}}`). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string; hint?: string } | string };
    const e = body.error;
    if (typeof e === "string") return new ApiError(e, response.status);
    if (e?.message) return new ApiError(e.message, response.status, e.code, e.hint);
  } catch {
    // not JSON: fall through to the status line
  }
  return new ApiError(text.slice(0, 300) || `${response.status} ${response.statusText}`, response.status);
}

export async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const init: RequestInit = {
    method,
    headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
  };
  if (body !== undefined) init.body = body instanceof FormData ? body : JSON.stringify(body);
  if (body instanceof FormData) init.headers = headers();
  if (signal) init.signal = signal;
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await request("GET", path, undefined, signal)).json()) as T;
}

export async function sendJson<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await request(method, path, body, signal);
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** Posts a form with upload progress (fetch cannot report it); resolves with the JSON reply. */
export function upload<T>(path: string, form: FormData, onProgress: (sent: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total);
    xhr.onerror = () => reject(new ApiError("the upload failed (network)", 0));
    xhr.onload = () => {
      let body: unknown = undefined;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body as T);
      const e = (body as { error?: { message?: string; code?: string; hint?: string } } | undefined)?.error;
      reject(new ApiError(e?.message ?? `${xhr.status} ${xhr.statusText}`, xhr.status, e?.code, e?.hint));
    };
    xhr.send(form);
  });
}

export interface SseMessage {
  event: string;
  data: string;
}

/** Reads a text/event-stream body message by message. */
export async function* readSse(response: Response): AsyncGenerator<SseMessage> {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl: number;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer[nl] === "\r" ? 2 : 1));
      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n") };
        event = "message";
        data = [];
      } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      else if (line.startsWith("event:")) event = line.slice(6).trim();
    }
  }
  if (data.length > 0) yield { event, data: data.join("\n") };
}

/** A job's events until it finishes (status done/failed/cancelled) or `signal` aborts. */
export async function* jobEvents(id: string, signal?: AbortSignal): AsyncGenerator<JobEvent> {
  const response = await request("GET", `/api/jobs/${encodeURIComponent(id)}/events`, undefined, signal);
  for await (const message of readSse(response)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.data);
    } catch {
      continue;
    }
    const event = asJobEvent(message.event, parsed);
    if (event) yield event;
  }
}

/** Accepts `{type, ...}` bodies and bodies whose type is the SSE event name. */
function asJobEvent(name: string, body: unknown): JobEvent | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as Record<string, unknown>;
  const type = typeof b["type"] === "string" ? b["type"] : name;
  if (type === "status" && b["job"]) return { type, job: b["job"] as JobRecord };
  if (type === "status" && b["status"]) return { type, job: b as unknown as JobRecord };
  if (type === "progress") return { type, progress: (b["progress"] ?? b) as JobEvent & never };
  if (type === "metric" && b["metrics"]) return { type, step: Number(b["step"] ?? 0), metrics: b["metrics"] as never };
  if (type === "log") return { type, message: String(b["message"] ?? "") };
  return undefined;
}

export function isFinished(status: string | undefined): boolean {
  return status === "done" || status === "failed" || status === "cancelled";
}
