// Multi-turn chat over a collection: each follow-up is rewritten to stand alone before
// retrieval (by the chat model; without one, by the lexical rule of `lexicalFollowUp`), then asked.
import { contentWords } from "../generate/extractive.js";
import { buildRewritePrompt } from "../generate/prompt.js";
import { streamChat } from "../generate/answer.js";
import type { RecipeRetriever } from "../recipe/build.js";
import type { CollectionStore } from "../store/index.js";
import type { ChatMessage } from "../types.js";
import { askStore, openAskCollections, recipeRetriever, type AskOptions, type AskResult } from "./ask.js";

export interface ChatTurn extends AskResult {
  /** How the searched question was made: as asked, rewritten by the model, or with the previous question's key terms. */
  rewrite: "none" | "llm" | "previous-question";
}

export class ChatSession {
  readonly history: ChatMessage[] = [];
  /** What the previous turn searched: its question, with the terms it carried if it referred back. */
  #lastSearched: string | undefined;

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
    const text = lexicalFollowUp(this.#lastSearched ?? "", question);
    return { text, rewrite: text === question ? "none" : "previous-question" };
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
    this.#lastSearched = text;
    this.history.push({ role: "user", content: question }, { role: "assistant", content: result.answer });
    return { ...result, rewrite };
  }

  /** Closes the collections and what the recipe loaded (a reranker). */
  async close(): Promise<void> {
    if (!this.options.retriever) await this.retriever.dispose();
    for (const s of this.stores) s.close();
  }
}

/** Words that point back to something named before ("where are they stored?"). */
const REFERRING = new Set(
  "it its they them their theirs this that these those there he him his she her one ones same".split(" "),
);

/** At most this many key terms of the previous question are added to a follow-up. */
const MAX_CARRIED_TERMS = 4;

/**
 * The text searched for a follow-up when no chat model can rewrite it. Only the follow-up itself,
 * plus, when it cannot stand alone, at most four key terms of the previous question — never the
 * whole history, which would keep retrieving the first topic:
 * - it refers back ("And where are they stored?": they, it, those, there …) or has no content word
 *   of its own ("Why?"): the previous question's content words are added;
 * - otherwise it names its own subject ("And the eggs?" after "How much butter is in it?"): it is
 *   searched as asked, since the previous subject (butter) would only pull back the old answer.
 * `previous` is what the previous turn searched, so a chain of references ("Where are they
 * stored?" then "Who can read them?") keeps its subject; the cap keeps terms from piling up.
 */
export function lexicalFollowUp(previous: string, question: string): string {
  const own = contentWords(question);
  const words = question.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const refersBack = words.some((w) => REFERRING.has(w));
  if (!refersBack && own.length > 0) return question;
  const carried = contentWords(previous)
    .filter((w) => !own.includes(w))
    .slice(0, MAX_CARRIED_TERMS);
  return carried.length > 0 ? `${question} ${carried.join(" ")}` : question;
}
