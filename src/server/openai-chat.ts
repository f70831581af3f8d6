// POST /v1/chat/completions and /v1/completions as OpenAI serves them: one choice, SSE chunks ending
// in `data: [DONE]` when `stream`, usage (the token counts the model's backend reports, generation.ts;
// prompt_tokens is 0 from a backend that reports none, an OpenAI-compatible server that sends no
// usage in its stream). A completion's prompt is continued as raw text (the model's `complete`: no
// chat template); a `rag:` model takes it as the question. `response_format: json_object` asks for
// JSON and guarantees it: text that does not parse is returned as {"text": …}.
import { randomUUID } from "node:crypto";
import type { Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { ChatMessage, ChatOptions } from "../rag/types.js";
import { jsonBody } from "./body.js";
import type { ServerContext } from "./context.js";
import { errorResponse, httpError } from "./errors.js";
import { generate, type Generation } from "./generation.js";
import {
  ChatRequestSchema,
  CompletionRequestSchema,
  type ChatRequest,
  type CompletionRequest,
} from "./openai-schemas.js";
import type { ServedModel } from "./models.js";
import { servedModel } from "./tuned.js";

const JSON_INSTRUCTION = "Answer with one JSON object and nothing else.";

/** Messages as the model layer takes them: content parts joined, `developer` as `system`. */
export function chatMessages(messages: ChatRequest["messages"]): ChatMessage[] {
  return messages.map((m, i) => {
    let content = "";
    if (typeof m.content === "string") content = m.content;
    else if (Array.isArray(m.content)) {
      content = m.content
        .map((part, j) => {
          if (part.type !== "text" || typeof part["text"] !== "string")
            throw httpError(400, "unsupported_content", `messages[${i}].content[${j}]: only text parts are supported`, {
              param: `messages[${i}].content[${j}].type`,
            });
          return part["text"];
        })
        .join("\n");
    }
    return { role: m.role === "developer" ? "system" : m.role, content };
  });
}

function sampling(body: ChatRequest | CompletionRequest, signal: AbortSignal): ChatOptions {
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const stop = typeof body.stop === "string" ? [body.stop] : (body.stop ?? undefined);
  return {
    signal,
    ...(maxTokens != null ? { maxTokens } : {}),
    ...(body.temperature != null ? { temperature: body.temperature } : {}),
    ...(body.top_p != null ? { topP: body.top_p } : {}),
    ...(body.seed != null ? { seed: body.seed } : {}),
    ...(stop && stop.length > 0 ? { stop } : {}),
  };
}

/** Text that parses as a JSON object, as it is; any other text wrapped as {"text": …}. */
export function asJsonObject(text: string): string {
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start >= 0 && end > start) {
    try {
      const parsed: unknown = JSON.parse(text.slice(start, end + 1));
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return JSON.stringify(parsed);
    } catch {
      // not JSON: wrapped below
    }
  }
  return JSON.stringify({ text: text.trim() });
}

interface Shape {
  object: string;
  chunkObject: string;
  /** One choice of a full response. */
  choice(text: string, finish: string): Record<string, unknown>;
  /** One choice of a stream chunk. */
  delta(text: string | undefined, finish: string | null, first: boolean): Record<string, unknown>;
}

const CHAT: Shape = {
  object: "chat.completion",
  chunkObject: "chat.completion.chunk",
  choice: (text, finish) => ({
    index: 0,
    message: { role: "assistant", content: text, refusal: null },
    logprobs: null,
    finish_reason: finish,
  }),
  delta: (text, finish, first) => ({
    index: 0,
    delta: text === undefined ? {} : { ...(first ? { role: "assistant" } : {}), content: text },
    logprobs: null,
    finish_reason: finish,
  }),
};

const COMPLETION: Shape = {
  object: "text_completion",
  chunkObject: "text_completion",
  choice: (text, finish) => ({ index: 0, text, logprobs: null, finish_reason: finish }),
  delta: (text, finish) => ({ index: 0, text: text ?? "", logprobs: null, finish_reason: finish }),
};

interface Run {
  shape: Shape;
  model: ServedModel;
  /** A chat's messages, or a completion's raw prompt. */
  input: ChatMessage[] | string;
  options: ChatOptions;
  stream: boolean;
  includeUsage: boolean;
  json: boolean;
  citations: boolean;
  /** Text put before the answer (a completion's `echo`). */
  prefix: string;
}

function usage(s: { promptTokens: number; completionTokens: number }): Record<string, number> {
  return {
    prompt_tokens: s.promptTokens,
    completion_tokens: s.completionTokens,
    total_tokens: s.promptTokens + s.completionTokens,
  };
}

async function respond(c: Context, ctx: ServerContext, abort: AbortController, run: Run): Promise<Response> {
  const id = `${run.shape === CHAT ? "chatcmpl" : "cmpl"}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, created, model: run.model.id };
  // a model that cannot load, or a collection that does not exist, is the request's status, not a stream error
  if (run.model.kind === "rag") await ctx.models.ragSetup(run.model.id);
  else await ctx.models.chat(run.model.id);
  const gen: Generation = generate(ctx, run.model, run.input, run.options);
  if (!run.stream) {
    let text = "";
    for await (const piece of gen.pieces) text += piece;
    const s = gen.summary();
    const answer = run.prefix + (run.json ? asJsonObject(text) : text);
    return c.json({
      ...head,
      object: run.shape.object,
      choices: [run.shape.choice(answer, s.finishReason)],
      usage: usage(s),
      ...(run.citations && s.citations ? { citations: s.citations } : {}),
    });
  }
  return streamSSE(c, async (sse) => {
    sse.onAbort(() => abort.abort(new Error("the client closed the connection")));
    const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      sse.writeSSE({
        data: JSON.stringify({
          ...head,
          object: run.shape.chunkObject,
          choices,
          ...(run.includeUsage ? { usage: null } : {}),
          ...extra,
        }),
      });
    try {
      let first = true;
      if (run.shape === CHAT) {
        await send([run.shape.delta("", null, true)]);
        first = false;
      }
      if (run.prefix) await send([run.shape.delta(run.prefix, null, first)]);
      let buffered = "";
      for await (const piece of gen.pieces) {
        if (run.json) buffered += piece;
        else await send([run.shape.delta(piece, null, first)]);
        first = false;
      }
      if (run.json) await send([run.shape.delta(asJsonObject(buffered), null, false)]);
      const s = gen.summary();
      await send(
        [run.shape.delta(undefined, s.finishReason, false)],
        run.citations && s.citations ? { citations: s.citations } : {},
      );
      if (run.includeUsage) await send([], { usage: usage(s) });
    } catch (e) {
      if (!abort.signal.aborted) await sse.writeSSE({ data: JSON.stringify(errorResponse(e, ctx.log).body) });
    }
    await sse.writeSSE({ data: "[DONE]" });
  });
}

/** The request's abort (client gone) as a signal the generation stops on. */
function requestAbort(c: Context): AbortController {
  const abort = new AbortController();
  const signal = c.req.raw.signal;
  if (signal.aborted) abort.abort(signal.reason);
  else signal.addEventListener("abort", () => abort.abort(signal.reason), { once: true });
  return abort;
}

export function registerOpenAiChat(app: Hono, ctx: ServerContext): void {
  app.post("/v1/chat/completions", async (c) => {
    const body = await jsonBody(c, ChatRequestSchema);
    const model = await servedModel(ctx, body.model, ["chat", "rag"]);
    const json = body.response_format?.type === "json_object";
    const messages = chatMessages(body.messages);
    const abort = requestAbort(c);
    return respond(c, ctx, abort, {
      shape: CHAT,
      model,
      input: json ? [{ role: "system", content: JSON_INSTRUCTION }, ...messages] : messages,
      options: sampling(body, abort.signal),
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      json,
      citations: body.citations === true,
      prefix: "",
    });
  });

  app.post("/v1/completions", async (c) => {
    const body = await jsonBody(c, CompletionRequestSchema);
    const model = await servedModel(ctx, body.model, ["chat", "rag"]);
    const prompt = typeof body.prompt === "string" ? body.prompt : body.prompt[0]!;
    const abort = requestAbort(c);
    return respond(c, ctx, abort, {
      shape: COMPLETION,
      model,
      input: prompt,
      options: sampling(body, abort.signal),
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      json: false,
      citations: false,
      prefix: body.echo === true ? prompt : "",
    });
  });
}
