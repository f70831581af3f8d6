// Chat prompts to token ids: the model's chat template (tokenizers/chat.ts renders it), its special
// tokens parsed, BOS added when the tokenizer wants one and the template did not write it.
import { applyChatTemplate, type ChatMessage } from "../tokenizers/chat.js";
import type { Tokenizer } from "../tokenizers/types.js";

export type { ChatMessage };

export function encodeChat(tokenizer: Tokenizer, messages: ChatMessage[]): number[] {
  const ids = tokenizer.encode(applyChatTemplate(tokenizer, messages), { addSpecial: false, parseSpecial: true });
  const bos = tokenizer.bosId;
  const wantsBos = bos !== undefined && tokenizer.encode("", { addSpecial: true }).includes(bos);
  return wantsBos && ids[0] !== bos ? [bos, ...ids] : ids;
}
