// A real HTTP server on 127.0.0.1 that speaks the OpenAI (`/v1/chat/completions` and `/v1/completions`
// with SSE streaming, `/v1/embeddings`) and Ollama (`/api/chat` and raw `/api/generate` NDJSON,
// `/api/embed`) protocols, answering with whatever real models the test hands it, with the token
// counts they report (OpenAI's usage, streamed when stream_options.include_usage asks; Ollama's
// prompt_eval_count / eval_count). Leaves out tools and images.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatMessage, ChatModel, ChatOptions, ChatUsage } from "../../src/rag/types.js";

export interface ModelServerOptions {
  chat?: ChatModel;
  embed?: (texts: string[]) => Promise<Float32Array[]>;
  /** Model names the server knows; others get 404 ("model not found"). Empty: any name. */
  models?: string[];
  /** When set, OpenAI routes require `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface ModelServer {
  /** e.g. http://127.0.0.1:41234 (OpenAI base URL is `${url}/v1`). */
  url: string;
  requests: RecordedRequest[];
  /** The next request is answered with this status and JSON body instead of a model. */
  failNext(status: number, body: unknown, headers?: Record<string, string>): void;
  /** The next streamed answer breaks off (socket destroyed) after this many pieces. */
  dropNextStreamAfter(pieces: number): void;
  /** Requests whose client went away before the answer was complete (aborted streams). */
  closedEarly: number;
  close(): Promise<void>;
}

export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const failures: { status: number; body: unknown; headers?: Record<string, string> | undefined }[] = [];
  let dropAfter: number | undefined;
  const state: ModelServer = {
    url: "",
    requests: [],
    closedEarly: 0,
    failNext: (status, body, headers) => failures.push({ status, body, headers }),
    dropNextStreamAfter: (pieces) => (dropAfter = pieces),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(e) } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = (req.url ?? "/").split("?")[0]!;
    state.requests.push({ path, headers: req.headers, body });
    const failure = failures.shift();
    if (failure) return sendJson(res, failure.status, failure.body, failure.headers);
    const openai = path.startsWith("/v1/");
    if (openai && options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, { error: { message: "Incorrect API key provided", type: "invalid_request_error" } });
    }
    const model = String(body["model"] ?? "");
    if (options.models && options.models.length > 0 && !options.models.includes(model)) {
      return openai
        ? sendJson(res, 404, { error: { message: `The model \`${model}\` does not exist`, type: "not_found" } })
        : sendJson(res, 404, { error: `model "${model}" not found, try pulling it first` });
    }
    const clientGone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) {
        state.closedEarly++;
        clientGone.abort();
      }
    });
    if (req.method !== "POST") return sendJson(res, 405, { error: "POST only" });
    if (path === "/v1/chat/completions") return openaiGenerate(body, res, clientGone.signal, false);
    if (path === "/v1/completions") return openaiGenerate(body, res, clientGone.signal, true);
    if (path === "/api/chat") return ollamaGenerate(body, res, clientGone.signal, false);
    if (path === "/api/generate") return ollamaGenerate(body, res, clientGone.signal, true);
    if (path === "/v1/embeddings") {
      const vectors = await embed(body["input"]);
      return sendJson(res, 200, {
        object: "list",
        model,
        data: vectors.map((v, index) => ({ object: "embedding", index, embedding: Array.from(v) })),
        usage: { prompt_tokens: 0, total_tokens: 0 },
      });
    }
    if (path === "/api/embed") {
      const vectors = await embed(body["input"]);
      return sendJson(res, 200, { model, embeddings: vectors.map((v) => Array.from(v)) });
    }
    sendJson(res, 404, { error: `no route ${path}` });
  }

  async function embed(input: unknown): Promise<Float32Array[]> {
    if (!options.embed) throw new Error("this server has no embedding model");
    const texts = typeof input === "string" ? [input] : (input as string[]);
    return options.embed(texts);
  }

  /** The model's pieces for a chat's `messages` or a completion's raw `prompt`. */
  function pieces(body: Record<string, unknown>, gen: ChatOptions): AsyncIterable<string> {
    const chat = requireChat();
    if (typeof body["prompt"] === "string") {
      if (!chat.complete) throw new Error("this server's model has no raw completion");
      return chat.complete(body["prompt"], gen);
    }
    return chat.chat(body["messages"] as ChatMessage[], gen);
  }

  /** `/v1/chat/completions` (completion: false) or `/v1/completions` (true), OpenAI's shapes. */
  async function openaiGenerate(
    body: Record<string, unknown>,
    res: ServerResponse,
    signal: AbortSignal,
    completion: boolean,
  ): Promise<void> {
    const stop = body["stop"];
    const gen: ChatOptions = {
      signal,
      ...num("maxTokens", body["max_tokens"] ?? body["max_completion_tokens"]),
      ...num("temperature", body["temperature"]),
      ...num("topP", body["top_p"]),
      ...num("seed", body["seed"]),
      ...(stop === undefined ? {} : { stop: typeof stop === "string" ? [stop] : (stop as string[]) }),
    };
    let usage: ChatUsage | undefined;
    let count = 0; // the completion's tokens where the model reports none
    gen.onUsage = (u) => (usage = u);
    const usageJson = (u: ChatUsage) => ({
      prompt_tokens: u.promptTokens,
      completion_tokens: u.completionTokens ?? count,
      total_tokens: u.promptTokens + (u.completionTokens ?? count),
    });
    const object = completion ? "text_completion" : "chat.completion.chunk";
    const base = { id: "cmpl-test", object, created: 0, model: body["model"] };
    if (body["stream"] !== true) {
      let text = "";
      for await (const piece of pieces(body, gen)) {
        text += piece;
        count++;
      }
      const choice = completion ? { text } : { message: { role: "assistant", content: text } };
      return sendJson(res, 200, {
        ...base,
        object: completion ? "text_completion" : "chat.completion",
        choices: [{ index: 0, ...choice, finish_reason: "stop" }],
        ...(usage ? { usage: usageJson(usage) } : {}),
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const sse = (text: string | undefined, finish: string | null) => {
      const part = completion ? { text: text ?? "" } : { delta: text === undefined ? {} : { content: text } };
      return `data: ${JSON.stringify({ ...base, choices: [{ index: 0, ...part, finish_reason: finish }] })}\n\n`;
    };
    if (!completion)
      res.write(
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] })}\n\n`,
      );
    const drop = takeDrop();
    for await (const piece of pieces(body, gen)) {
      if (++count === drop) return void res.write(sse(piece, null), () => res.destroy());
      res.write(sse(piece, null));
    }
    res.write(sse(undefined, "stop"));
    // as OpenAI's: a last chunk with no choices and the usage, when the request asks for it
    const streamOptions = body["stream_options"] as { include_usage?: boolean } | undefined;
    if (streamOptions?.include_usage && usage)
      res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: usageJson(usage) })}\n\n`);
    res.end("data: [DONE]\n\n");
  }

  /** `/api/chat` (completion: false) or `/api/generate` (true), Ollama's NDJSON lines. */
  async function ollamaGenerate(
    body: Record<string, unknown>,
    res: ServerResponse,
    signal: AbortSignal,
    completion: boolean,
  ): Promise<void> {
    if (completion && body["raw"] !== true) throw new Error("this server's /api/generate takes raw prompts only");
    const o = (body["options"] ?? {}) as Record<string, unknown>;
    const gen: ChatOptions = {
      signal,
      ...num("maxTokens", o["num_predict"]),
      ...num("temperature", o["temperature"]),
      ...num("topP", o["top_p"]),
      ...num("seed", o["seed"]),
      ...(Array.isArray(o["stop"]) ? { stop: o["stop"] as string[] } : {}),
    };
    let usage: ChatUsage | undefined;
    let count = 0; // the completion's tokens where the model reports none
    gen.onUsage = (u) => (usage = u);
    // the last line carries Ollama's token counts, where the model reported them
    const counts = () =>
      usage ? { prompt_eval_count: usage.promptTokens, eval_count: usage.completionTokens ?? count } : {};
    const line = (content: string, done: boolean) => {
      const text = completion ? { response: content } : { message: { role: "assistant", content } };
      const end = done ? { done_reason: "stop", ...counts() } : {};
      return `${JSON.stringify({ model: body["model"], created_at: new Date(0).toISOString(), ...text, done, ...end })}\n`;
    };
    if (body["stream"] === false) {
      let text = "";
      for await (const piece of pieces(body, gen)) {
        text += piece;
        count++;
      }
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(line(text, true));
    }
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const drop = takeDrop();
    for await (const piece of pieces(body, gen)) {
      if (++count === drop) return void res.write(line(piece, false), () => res.destroy());
      res.write(line(piece, false));
    }
    res.end(line("", true));
  }

  function takeDrop(): number | undefined {
    const n = dropAfter;
    dropAfter = undefined;
    return n;
  }

  function requireChat(): ChatModel {
    if (!options.chat) throw new Error("this server has no chat model");
    return options.chat;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function num<K extends string>(key: K, value: unknown): Partial<Record<K, number>> {
  return typeof value === "number" ? ({ [key]: value } as Partial<Record<K, number>>) : {};
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}
