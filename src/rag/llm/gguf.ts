// A local GGUF chat model run by node-llama-cpp (llama.cpp): the model's own chat template when
// the GGUF has one, else a plain "### Human / ### Assistant" prompt; completions continue a raw
// prompt (LlamaCompletion). Calls run one at a time.
import type {
  ChatHistoryItem,
  ChatWrapper,
  LlamaChat as LlamaChatType,
  LlamaCompletion as LlamaCompletionType,
  LlamaCompletionGenerationOptions,
  LlamaContext,
  LlamaModel,
} from "node-llama-cpp";
import { GeneralChatWrapper, LlamaChat, LlamaCompletion, resolveChatWrapper } from "node-llama-cpp";
import { throwIfAborted } from "../../core/errors.js";
import type { ChatMessage, ChatModel, ChatOptions } from "../types.js";
import { llamaThreads, loadGgufModel } from "./llama-runtime.js";
import { PushStream } from "./stream.js";

export interface GgufChatOptions {
  /** Context window in tokens; default the model's training context, at most 4096. */
  contextSize?: number;
  signal?: AbortSignal;
}

export class GgufChatModel implements ChatModel {
  readonly id: string;
  /** Whether the GGUF carried a chat template (else the plain prompt format is used). */
  readonly hasChatTemplate: boolean;
  /** node-llama-cpp's name for the prompt format in use, e.g. "JinjaTemplate" or "General". */
  readonly promptFormat: string;
  private queue: Promise<void> = Promise.resolve();
  private readonly completion: LlamaCompletionType;

  private constructor(
    ref: string,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly llamaChat: LlamaChatType,
    hasChatTemplate: boolean,
  ) {
    // completions evaluate on the chat's sequence: calls take turns, and each evaluation keeps only
    // the prefix it shares with what the sequence holds
    this.completion = new LlamaCompletion({ contextSequence: llamaChat.sequence });
    this.id = `gguf:${ref}`;
    this.hasChatTemplate = hasChatTemplate;
    this.promptFormat = llamaChat.chatWrapper.wrapperName;
  }

  static async load(ref: string, file: string, options: GgufChatOptions = {}): Promise<GgufChatModel> {
    const model = await loadGgufModel(file, options.signal);
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 4096);
    const context = await model.createContext({ contextSize, threads: llamaThreads() });
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    const hasTemplate = typeof template === "string" && template.length > 0;
    const wrapper: ChatWrapper = hasTemplate ? resolveChatWrapper(model) : new GeneralChatWrapper();
    const llamaChat = new LlamaChat({ contextSequence: context.getSequence(), chatWrapper: wrapper });
    return new GgufChatModel(ref, model, context, llamaChat, hasTemplate);
  }

  chat(messages: ChatMessage[], options: ChatOptions = {}): AsyncGenerator<string> {
    const history = toHistory(messages);
    return this.generate(
      options,
      (sampling) => this.llamaChat.generateResponse(history, sampling),
      () => {
        const { contextText } = this.llamaChat.chatWrapper.generateContextState({ chatHistory: history });
        return contextText.tokenize(this.model.tokenizer).length; // OpenAI's prompt_tokens: cached ones too
      },
    );
  }

  complete(prompt: string, options: ChatOptions = {}): AsyncGenerator<string> {
    // tokenized as llama.cpp tokenizes a prompt (special tokens not parsed), not as LlamaCompletion does a
    // string (its "trimLeadingSpace" splits a Llama prompt's first word: "Once" into 3 tokens); it
    // prepends the BOS the model asks for
    const bos = this.model.tokens.shouldPrependBosToken && this.model.tokens.bos !== null;
    const tokens = this.model.tokenize(prompt, false);
    return this.generate(
      options,
      (sampling) => this.completion.generateCompletion(tokens, sampling),
      () => tokens.length + (bos ? 1 : 0),
    );
  }

  /**
   * One call, after the previous one: `run` generates with node-llama-cpp's settings for `options`,
   * its text chunks streamed; `promptTokens` counts the prompt for onUsage once it has answered.
   */
  private async *generate(
    options: ChatOptions,
    run: (sampling: LlamaSampling) => Promise<unknown>,
    promptTokens: () => number,
  ): AsyncGenerator<string> {
    throwIfAborted(options.signal, `generation with ${this.id}`);
    const release = await this.turn();
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) stop.abort(options.signal.reason);
    const pieces = new PushStream<string>();
    const running = run({
      onTextChunk: (text) => pieces.push(text),
      signal: stop.signal,
      stopOnAbortSignal: true,
      ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.topP !== undefined ? { topP: options.topP } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.stop && options.stop.length > 0 ? { customStopTriggers: options.stop } : {}),
    }).then(
      () => {
        if (options.onUsage && !stop.signal.aborted) options.onUsage({ promptTokens: promptTokens() });
        pieces.end();
      },
      (e: unknown) => pieces.fail(e),
    );
    try {
      try {
        for await (const piece of pieces) {
          if (options.signal?.aborted) break;
          yield piece;
        }
      } catch (e) {
        if (!options.signal?.aborted) throw e;
      }
      throwIfAborted(options.signal, `generation with ${this.id}`);
    } finally {
      // a consumer that stops reading (break, return, throw) stops the generation too
      stop.abort();
      await running;
      options.signal?.removeEventListener("abort", onAbort);
      release();
    }
  }

  async dispose(): Promise<void> {
    await this.queue;
    this.completion.dispose();
    this.llamaChat.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }

  /** Waits for the previous call to finish; the returned function lets the next one run. */
  private async turn(): Promise<() => void> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return release;
  }
}

/** The settings chat and completion calls share (LlamaChat's take the same names). */
type LlamaSampling = Pick<
  LlamaCompletionGenerationOptions,
  "onTextChunk" | "signal" | "stopOnAbortSignal" | "maxTokens" | "temperature" | "topP" | "seed" | "customStopTriggers"
>;

function toHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === "system"
      ? { type: "system", text: m.content }
      : m.role === "user"
        ? { type: "user", text: m.content }
        : { type: "model", response: [m.content] },
  );
  history.push({ type: "model", response: [] });
  return history;
}
