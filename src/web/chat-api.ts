// OpenAI-compatible chat from the browser: /v1/models and streaming /v1/chat/completions, with
// infuse's opt-in citations (the passages a `rag:COLLECTION` model answered from).
import { getJson, readSse, request, sendJson } from "./api.js";

export interface ModelInfo {
  id: string;
  owned_by?: string;
}

/** A passage the answer cites as [n]; `text` when the server sends the passage itself. */
export interface Citation {
  n: number;
  source: string;
  page?: number | null;
  heading?: string | null;
  chunk_id?: string;
  score?: number;
  text?: string;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
  const body = await getJson<{ data?: ModelInfo[] }>("/v1/models", signal);
  return body.data ?? [];
}

export interface ChatStreamOptions {
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  onDelta(text: string): void;
  onCitations?(citations: Citation[]): void;
}

/** Streams one answer; resolves with the whole text. */
export async function streamChat(model: string, messages: ChatMessage[], options: ChatStreamOptions): Promise<string> {
  const body: Record<string, unknown> = { model, messages, stream: true, citations: true };
  if (options.maxTokens !== undefined) body["max_tokens"] = options.maxTokens;
  if (options.temperature !== undefined) body["temperature"] = options.temperature;
  const response = await request("POST", "/v1/chat/completions", body, options.signal);
  let text = "";
  for await (const message of readSse(response)) {
    if (message.data === "[DONE]") break;
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(message.data) as Record<string, unknown>;
    } catch {
      continue;
    }
    const citations = citationsIn(chunk);
    if (citations && options.onCitations) options.onCitations(citations);
    const choices = chunk["choices"] as { delta?: { content?: string | null } }[] | undefined;
    const piece = choices?.[0]?.delta?.content;
    if (typeof piece === "string" && piece) {
      text += piece;
      options.onDelta(piece);
    }
  }
  return text;
}

/** The body `POST /api/collections/{name}/ask` answers (what `infuse ask --json` prints). */
export interface AskBody {
  answer: string;
  mode: "generative" | "extractive";
  note?: string;
  sources: Citation[];
  /** Every passage given to the model, numbered as the answer cites them. */
  context?: Citation[];
  invalid_citations?: number[];
}

/** Asks a collection through the REST route (any collection, served as a model or not); not streamed. */
export async function askCollection(collection: string, question: string, signal?: AbortSignal): Promise<AskBody> {
  return sendJson<AskBody>(
    "POST",
    `/api/collections/${encodeURIComponent(collection)}/ask`,
    { question, max_tokens: 256 },
    signal,
  );
}

/** Citations wherever the server puts them on a chunk: top level, in an `infuse` extra, or on the delta. */
export function citationsIn(chunk: Record<string, unknown>): Citation[] | undefined {
  const extra = chunk["infuse"] as Record<string, unknown> | undefined;
  const delta = (chunk["choices"] as { delta?: Record<string, unknown> }[] | undefined)?.[0]?.delta;
  for (const candidate of [chunk["citations"], extra?.["citations"], extra?.["sources"], delta?.["citations"]]) {
    if (Array.isArray(candidate)) return candidate.filter(isCitation);
  }
  return undefined;
}

function isCitation(value: unknown): value is Citation {
  const v = value as Partial<Citation> | null;
  return !!v && typeof v.n === "number" && typeof v.source === "string";
}

/** Splits an answer into text and [n] citation markers, for rendering markers as buttons. */
export function splitCitations(text: string): (string | number)[] {
  const parts: (string | number)[] = [];
  let last = 0;
  for (const m of text.matchAll(/\[(\d{1,3})\]/g)) {
    const at = m.index ?? 0;
    if (at > last) parts.push(text.slice(last, at));
    parts.push(Number(m[1]));
    last = at + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}
