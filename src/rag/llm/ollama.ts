// Chat through Ollama's `/api/chat`, and raw completions through its `/api/generate` (`raw: true`: no
// template), streamed as newline-delimited JSON. Sampling settings go in Ollama's `options`
// (num_predict, temperature, top_p, seed, stop); the last line's token counts go to onUsage. Leaves
// out tools and images.
import { InfuseError } from "../../core/errors.js";
import type { ChatMessage, ChatModel, ChatOptions } from "../types.js";
import { OLLAMA_AUTH_HINT } from "./endpoints.js";
import { badResponse, joinUrl, postJson, readLines, streamFailure } from "./http.js";

interface OllamaStreamLine {
  /** /api/chat's text. */
  message?: { content?: string };
  /** /api/generate's text. */
  response?: string;
  done?: boolean;
  /** On the last line: the prompt's tokens Ollama evaluated, and the generated ones. */
  prompt_eval_count?: number;
  eval_count?: number;
  error?: string;
}

export class OllamaChatModel implements ChatModel {
  readonly id: string;

  constructor(
    private readonly model: string,
    private readonly host: string,
  ) {
    this.id = `ollama:${model}@${host}`;
  }

  chat(messages: ChatMessage[], options: ChatOptions = {}): AsyncGenerator<string> {
    const input = { messages: messages.map((m) => ({ role: m.role, content: m.content })) };
    return this.stream("api/chat", input, options, (line) => line.message?.content);
  }

  complete(prompt: string, options: ChatOptions = {}): AsyncGenerator<string> {
    return this.stream("api/generate", { prompt, raw: true }, options, (line) => line.response);
  }

  private async *stream(
    route: string,
    input: Record<string, unknown>,
    options: ChatOptions,
    textOf: (line: OllamaStreamLine) => string | undefined,
  ): AsyncGenerator<string> {
    const url = joinUrl(this.host, route);
    const sampling = {
      ...(options.maxTokens !== undefined ? { num_predict: options.maxTokens } : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.topP !== undefined ? { top_p: options.topP } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.stop && options.stop.length > 0 ? { stop: options.stop } : {}),
    };
    const body = {
      model: this.model,
      ...input,
      stream: true,
      ...(Object.keys(sampling).length > 0 ? { options: sampling } : {}),
    };
    const response = await postJson(url, body, {
      area: "llm",
      what: `Ollama ${route === "api/generate" ? "completion" : "chat"} (model "${this.model}")`,
      headers: { accept: "application/x-ndjson" },
      signal: options.signal,
      unreachableHint: "start Ollama (`ollama serve`) or set OLLAMA_HOST (or rag.llm.baseUrl) to where it listens",
      authHint: OLLAMA_AUTH_HINT,
      notFoundHint: `pull the model first: \`ollama pull ${this.model}\``,
    });
    if (!response.body) throw badResponse(url, "llm", "no response body");
    try {
      for await (const text of readLines(response.body)) {
        if (text.trim() === "") continue;
        let line: OllamaStreamLine;
        try {
          line = JSON.parse(text) as OllamaStreamLine;
        } catch (e) {
          throw badResponse(url, "llm", `a stream line is not JSON: ${text.slice(0, 200)}`, e);
        }
        if (line.error) {
          throw new InfuseError("llm.stream_error", `${url} reported an error mid-stream: ${line.error}`, {
            kind: "network",
            hint: "retry; if it persists, check the Ollama server's logs",
            details: { url },
          });
        }
        const piece = textOf(line);
        if (piece) yield piece;
        if (line.done) {
          if (typeof line.prompt_eval_count === "number") {
            options.onUsage?.({
              promptTokens: line.prompt_eval_count,
              ...(typeof line.eval_count === "number" ? { completionTokens: line.eval_count } : {}),
            });
          }
          return;
        }
      }
    } catch (e) {
      throw streamFailure(e, url, options.signal);
    }
  }
}
