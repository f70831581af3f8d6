// The answer prompt: numbered context passages and an instruction to answer from them only,
// citing passages as [n]. Passages beyond the context budget are left out (and so not cited).
import type { ChatMessage, Hit } from "../types.js";
import { describeChunk } from "./sources.js";

export const DEFAULT_SYSTEM_PROMPT =
  "You answer questions using only the numbered context passages you are given. " +
  "After each statement, cite the passages it comes from by number in square brackets, like [1] or [2][3]. " +
  "If the passages do not contain the answer, say that you do not know. Be concise.";

export interface PromptOptions {
  system?: string;
  /** Most characters of passage text put in the prompt; default 8000. */
  maxContextChars?: number;
}

export interface AnswerPrompt {
  messages: ChatMessage[];
  /** The hits that made it into the prompt, in their [n] order. */
  hits: Hit[];
  chars: number;
}

export function buildAnswerPrompt(question: string, hits: Hit[], options: PromptOptions = {}): AnswerPrompt {
  const budget = options.maxContextChars ?? 8000;
  const used: Hit[] = [];
  const blocks: string[] = [];
  let size = 0;
  for (const hit of hits) {
    const block = `[${used.length + 1}] (${describeChunk(hit)})\n${hit.chunk.text}`;
    if (used.length > 0 && size + block.length > budget) break;
    used.push(hit);
    blocks.push(block);
    size += block.length;
  }
  const user =
    `Context passages:\n\n${blocks.join("\n\n")}\n\n` +
    `Question: ${question}\n\nAnswer from the passages above and cite them as [n].`;
  const system = options.system ?? DEFAULT_SYSTEM_PROMPT;
  return {
    messages: [
      { role: "system", content: system },
      { role: "user", content: user },
    ],
    hits: used,
    chars: system.length + user.length,
  };
}

/** Asks the model to turn a follow-up into a question that stands alone (for retrieval). */
export function buildRewritePrompt(history: ChatMessage[], followUp: string): ChatMessage[] {
  const transcript = history
    .slice(-6)
    .map((m) => `${m.role === "user" ? "User" : "Assistant"}: ${m.content}`)
    .join("\n");
  return [
    {
      role: "system",
      content:
        "Rewrite the user's follow-up question so that it can be understood without the conversation: " +
        "replace pronouns and references with what they refer to. Output only the rewritten question.",
    },
    {
      role: "user",
      content: `Conversation:\n${transcript}\n\nFollow-up question: ${followUp}\n\nStandalone question:`,
    },
  ];
}
