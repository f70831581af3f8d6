// Pointwise LLM reranking: the chat model rates each passage's relevance to the question from 0
// to 10 and the number it writes is the score. Leaves out listwise and pairwise prompting.
import { throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { complete } from "../expand/complete.js";
import type { ChatMessage, ChatModel } from "../types.js";
import type { Reranker } from "./reranker.js";
import { fencedBlock } from "../generate/prompt.js";

export interface LlmRerankerOptions {
  /** Characters of a passage shown to the model; default 2000. */
  maxPassageChars?: number;
}

/** The score an unparseable reply gets: below every real rating, so such passages sink. */
export const UNPARSED_SCORE = -1;

export function relevancePrompt(query: string, passage: string): ChatMessage[] {
  // the passage is a document's text: fenced with a per-prompt marker it cannot forge
  const { block, note } = fencedBlock(passage);
  return [
    {
      role: "system",
      content:
        "You judge search results. Rate how well the passage answers the question on a scale from 0 " +
        `(unrelated) to 10 (answers it fully). Reply with the number only. ${note}`,
    },
    { role: "user", content: `Question: ${query}\n\n${block}\n\nRelevance (0-10):` },
  ];
}

/**
 * The rating in a reply: the first number from 0 to 10 ("8", "Score: 7.5", "9/10"); undefined
 * when there is none.
 */
export function parseRelevanceScore(reply: string): number | undefined {
  for (const m of reply.matchAll(/\d+(?:\.\d+)?/g)) {
    const v = Number(m[0]);
    if (v >= 0 && v <= 10) return v;
  }
  return undefined;
}

export class LlmReranker implements Reranker {
  readonly id: string;
  /** Replies in the last `score` call that held no rating. */
  unparsed = 0;

  constructor(
    private readonly model: ChatModel,
    private readonly options: LlmRerankerOptions = {},
  ) {
    this.id = `llm:${model.id}`;
  }

  async score(query: string, passages: string[], options: TaskOptions = {}): Promise<number[]> {
    const out: number[] = [];
    this.unparsed = 0;
    for (const passage of passages) {
      throwIfAborted(options.signal, "LLM reranking");
      const reply = await complete(
        this.model,
        relevancePrompt(query, passage.slice(0, this.options.maxPassageChars ?? 2000)),
        {
          maxTokens: 8,
          temperature: 0,
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
      const score = parseRelevanceScore(reply);
      if (score === undefined) this.unparsed++;
      out.push(score ?? UNPARSED_SCORE);
      options.onProgress?.({ task: "rerank", done: out.length, total: passages.length, unit: "passages" });
    }
    return out;
  }
}
