// Multi-turn chat over a collection: each follow-up is rewritten to stand alone before
// retrieval (by the chat model; without one, by prefixing the previous question), then asked.
import { buildRewritePrompt } from "../generate/prompt.js";
import { streamChat } from "../generate/answer.js";
import type { RecipeRetriever } from "../recipe/build.js";
import type { CollectionStore } from "../store/index.js";
import type { ChatMessage } from "../types.js";
import { askStore, openAskCollections, recipeRetriever, type AskOptions, type AskResult } from "./ask.js";

export interface ChatTurn extends AskResult {
  /** How the searched question was made: as asked, rewritten by the model, or prefixed. */
  rewrite: "none" | "llm" | "previous-question";
}

export class ChatSession {
  readonly history: ChatMessage[] = [];
  #lastStandalone: string | undefined;

  private constructor(
    private readonly stores: CollectionStore[],
    private readonly retriever: RecipeRetriever,
    private readonly options: AskOptions,
  ) {}

  /** Opens the collection(s) and builds the recipe's retriever once, for every turn. */
  static async open(options: AskOptions): Promise<ChatSession> {
    const stores = await openAskCollections(options);
    try {
      return new ChatSession(stores, options.retriever ?? (await recipeRetriever(stores, options)), options);
    } catch (e) {
      for (const s of stores) s.close();
      throw e;
    }
  }

  /** The question to search for a follow-up: rewritten to stand alone. */
  async standalone(question: string, signal?: AbortSignal): Promise<{ text: string; rewrite: ChatTurn["rewrite"] }> {
    if (this.history.length === 0) return { text: question, rewrite: "none" };
    if (this.options.llm) {
      try {
        const text = await streamChat(this.options.llm, buildRewritePrompt(this.history, question), {
          ...this.options.generate,
          maxTokens: Math.min(96, this.options.generate?.maxTokens ?? 96),
          temperature: 0,
          ...(signal ? { signal } : {}),
        });
        const line = text
          .split("\n")
          .find((l) => l.trim().length > 0)
          ?.trim();
        if (line) return { text: line.replace(/^standalone question:\s*/i, ""), rewrite: "llm" };
      } catch {
        // fall through to the lexical rewrite
      }
    }
    return { text: `${this.#lastStandalone ?? ""} ${question}`.trim(), rewrite: "previous-question" };
  }

  async ask(question: string, extra: Pick<AskOptions, "onToken" | "signal"> = {}): Promise<ChatTurn> {
    const signal = extra.signal ?? this.options.signal;
    const { text, rewrite } = await this.standalone(question, signal);
    const result = await askStore(this.stores, question, {
      ...this.options,
      ...extra,
      retriever: this.retriever,
      standalone: text,
    });
    this.#lastStandalone = text;
    this.history.push({ role: "user", content: question }, { role: "assistant", content: result.answer });
    return { ...result, rewrite };
  }

  /** Closes the collections and what the recipe loaded (a reranker). */
  async close(): Promise<void> {
    if (!this.options.retriever) await this.retriever.dispose();
    for (const s of this.stores) s.close();
  }
}
