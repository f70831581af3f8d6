// One whole reply from a streaming chat model, for techniques that parse what the LLM writes
// (query variants, hypothetical answers, relevance scores, judgments). No retries here.
import type { ChatMessage, ChatModel, ChatOptions } from "../types.js";

export async function complete(model: ChatModel, messages: ChatMessage[], options: ChatOptions = {}): Promise<string> {
  let text = "";
  for await (const piece of model.chat(messages, options)) text += piece;
  return text;
}
