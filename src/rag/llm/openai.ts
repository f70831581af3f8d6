// Chat through an OpenAI-compatible `/v1/chat/completions` endpoint (OpenAI, vLLM, llama.cpp
// server, LM Studio, ...), and raw completions through its `/v1/completions`, streamed as server-sent
// events. With onUsage, the request asks for the stream's usage (stream_options.include_usage) and
// the counts go to onUsage where the server sends them. Leaves out tools and multimodal input.
import { InfuseError } from "../../core/errors.js";
import type { ChatMessage, ChatModel, ChatOptions } from "../types.js";
import { OPENAI_AUTH_HINT, openaiHeaders, type OpenAIEndpoint } from "./endpoints.js";
import { badResponse, joinUrl, postJson, readSseData, streamFailure } from "./http.js";

interface StreamChunk {
  /** A chat chunk's text is in delta.content, a completion chunk's in text. */
  choices?: { delta?: { content?: string | null }; text?: string; finish_reason?: string | null }[];
  /** On the last chunk when stream_options.include_usage asks (some servers send it unasked). */
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

export class OpenAIChatModel implements ChatModel {
  readonly id: string;

  constructor(
    private readonly model: string,
    private readonly endpoint: OpenAIEndpoint,
  ) {
    this.id = `openai:${model}@${endpoint.baseUrl}`;
  }

  chat(messages: ChatMessage[], options: ChatOptions = {}): AsyncGenerator<string> {
    const input = { messages: messages.map((m) => ({ role: m.role, content: m.content })) };
    return this.stream("chat/completions", input, options, (c) => c.choices?.[0]?.delta?.content);
  }

  complete(prompt: string, options: ChatOptions = {}): AsyncGenerator<string> {
    return this.stream("completions", { prompt }, options, (c) => c.choices?.[0]?.text);
  }

  private async *stream(
    route: string,
    input: Record<string, unknown>,
    options: ChatOptions,
    textOf: (chunk: StreamChunk) => string | null | undefined,
  ): AsyncGenerator<string> {
    const url = joinUrl(this.endpoint.baseUrl, route);
    const body = {
      model: this.model,
      ...input,
      stream: true,
      // the last chunk then carries the usage (OpenAI, vLLM, llama.cpp's server and Ollama accept it)
      ...(options.onUsage ? { stream_options: { include_usage: true } } : {}),
      ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.topP !== undefined ? { top_p: options.topP } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.stop && options.stop.length > 0 ? { stop: options.stop } : {}),
    };
    const response = await postJson(url, body, {
      area: "llm",
      what: `OpenAI-compatible ${route === "completions" ? "completion" : "chat"} (model "${this.model}")`,
      headers: { ...openaiHeaders(this.endpoint.apiKey), accept: "text/event-stream" },
      signal: options.signal,
      unreachableHint: "start the server or set OPENAI_BASE_URL (or rag.llm.baseUrl) to where it listens",
      authHint: OPENAI_AUTH_HINT,
      notFoundHint: `check the base URL (it usually ends in /v1) and that the server serves model "${this.model}"`,
    });
    if (!response.body) throw badResponse(url, "llm", "no response body");
    let usage: StreamChunk["usage"];
    try {
      for await (const data of readSseData(response.body)) {
        if (data === "[DONE]") break;
        let chunk: StreamChunk;
        try {
          chunk = JSON.parse(data) as StreamChunk;
        } catch (e) {
          throw badResponse(url, "llm", `a stream event is not JSON: ${data.slice(0, 200)}`, e);
        }
        if (chunk.error) {
          throw new InfuseError(
            "llm.stream_error",
            `${url} reported an error mid-stream: ${chunk.error.message ?? "unknown"}`,
            {
              kind: "network",
              hint: "retry; if it persists, check the server's logs",
              details: { url },
            },
          );
        }
        const piece = textOf(chunk);
        if (piece) yield piece;
        if (typeof chunk.usage?.prompt_tokens === "number") usage = chunk.usage;
      }
      if (typeof usage?.prompt_tokens === "number") {
        options.onUsage?.({
          promptTokens: usage.prompt_tokens,
          ...(typeof usage.completion_tokens === "number" ? { completionTokens: usage.completion_tokens } : {}),
        });
      }
    } catch (e) {
      throw streamFailure(e, url, options.signal);
    }
  }
}
