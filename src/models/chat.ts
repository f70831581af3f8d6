// Chat prompts to token ids: a chat template (the model's own, or one given, e.g. the one an adapter
// was trained with) rendered by tokenizers/chat.ts, its special tokens parsed, BOS added when the
// tokenizer wants one and the template did not write it.
import { applyChatTemplate, renderChatTemplate, type ChatMessage } from "../tokenizers/chat.js";
import type { Tokenizer } from "../tokenizers/types.js";

export type { ChatMessage };

export interface EncodeChatOptions {
  /** A Jinja chat template to use instead of the tokenizer's own. */
  template?: string;
  /** The longest text the template may render (`limits.templateMaxChars`); default the built-in limit. */
  maxChars?: number;
}

export function encodeChat(tokenizer: Tokenizer, messages: ChatMessage[], options: EncodeChatOptions = {}): number[] {
  const text = (id: number | undefined): string =>
    id === undefined ? "" : Buffer.from(tokenizer.tokenBytes(id)).toString("utf8");
  const limit = options.maxChars !== undefined ? { maxChars: options.maxChars } : {};
  const rendered =
    options.template !== undefined
      ? renderChatTemplate(options.template, messages, {
          bosToken: text(tokenizer.bosId),
          eosToken: text(tokenizer.eosId),
          ...limit,
        })
      : applyChatTemplate(tokenizer, messages, limit);
  const ids = tokenizer.encode(rendered, { addSpecial: false, parseSpecial: true });
  const bos = tokenizer.bosId;
  const wantsBos = bos !== undefined && tokenizer.encode("", { addSpecial: true }).includes(bos);
  return wantsBos && ids[0] !== bos ? [bos, ...ids] : ids;
}
