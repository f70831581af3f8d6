// Chat through Ollama's `/api/chat`, streamed as newline-delimited JSON. Sampling settings go
// in Ollama's `options` (num_predict, temperature, top_p, seed, stop); the last line's token counts go
// to onUsage. Leaves out tools and images.
import { InfuseError } from "../../core/errors.js";
import type { ChatMessage, ChatModel, ChatOptions } from "../types.js";
import { OLLAMA_AUTH_HINT } from "./endpoints.js";
import { badResponse, joinUrl, postJson, readLines, streamFailure } from "./http.js";

interface OllamaChatLine {
  message?: { content?: string };
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

  async *chat(messages: ChatMessage[], options: ChatOptions = {}): AsyncGenerator<string> {
    const url = joinUrl(this.host, "api/chat");
    const sampling = {
      ...(options.maxTokens !== undefined ? { num_predict: options.maxTokens } : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.topP !== undefined ? { top_p: options.topP } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.stop && options.stop.length > 0 ? { stop: options.stop } : {}),
    };
    const body = {
      model: this.model,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      stream: true,
      ...(Object.keys(sampling).length > 0 ? { options: sampling } : {}),
    };
    const response = await postJson(url, body, {
      area: "llm",
      what: `Ollama chat (model "${this.model}")`,
      headers: { accept: "application/x-ndjson" },
      signal: options.signal,
      unreachableHint: "start Ollama (`ollama serve`) or set OLLAMA_HOST (or rag.llm.baseUrl) to where it listens",
      authHint: OLLAMA_AUTH_HINT,
      notFoundHint: `pull the model first: \`ollama pull ${this.model}\``,
    });
    if (!response.body) throw badResponse(url, "llm", "no response body");
    try {
      for await (const line of readLines(response.body)) {
        if (line.trim() === "") continue;
        let item: OllamaChatLine;
        try {
          item = JSON.parse(line) as OllamaChatLine;
        } catch (e) {
          throw badResponse(url, "llm", `a stream line is not JSON: ${line.slice(0, 200)}`, e);
        }
        if (item.error) {
          throw new InfuseError("llm.stream_error", `${url} reported an error mid-stream: ${item.error}`, {
            kind: "network",
            hint: "retry; if it persists, check the Ollama server's logs",
            details: { url },
          });
        }
        const piece = item.message?.content;
        if (piece) yield piece;
        if (item.done) {
          if (typeof item.prompt_eval_count === "number") {
            options.onUsage?.({
              promptTokens: item.prompt_eval_count,
              ...(typeof item.eval_count === "number" ? { completionTokens: item.eval_count } : {}),
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
