// Generating a cited answer with a chat model, streaming the pieces as they come. Falls back
// to nothing itself: the caller (pipeline/ask) decides on the extractive answer.
import { throwIfAborted } from "../../core/errors.js";
import type { ChatMessage, ChatModel, ChatOptions } from "../types.js";

export interface StreamOptions extends ChatOptions {
  onToken?: (piece: string) => void;
}

/** Runs the chat model to the end, calling `onToken` per streamed piece; returns the full text. */
export async function streamChat(
  model: ChatModel,
  messages: ChatMessage[],
  options: StreamOptions = {},
): Promise<string> {
  const { onToken, ...generate } = options;
  let text = "";
  for await (const piece of model.chat(messages, generate)) {
    throwIfAborted(options.signal, "generation");
    text += piece;
    onToken?.(piece);
  }
  return text.trim();
}
