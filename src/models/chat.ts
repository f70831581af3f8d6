// Chat prompts through the model's own chat template (tokenizer.chat_template, a Jinja template
// rendered by @huggingface/jinja) into token ids. Leaves out tool calls and multimodal content.
import { Template } from "@huggingface/jinja";
import { InfuseError } from "../core/errors.js";
import type { Tokenizer } from "../tokenizers/types.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** The template's text for `messages`, ending with the assistant's turn opened. */
export function renderChat(tokenizer: Tokenizer, messages: readonly ChatMessage[]): string {
  const source = tokenizer.chatTemplate;
  if (!source) {
    throw new InfuseError("model.no_chat_template", "the model has no chat template", {
      kind: "input",
      hint: "use --prompt with plain text, or a model whose GGUF/tokenizer_config.json carries a chat_template",
    });
  }
  const token = (id: number | undefined): string =>
    id === undefined ? "" : new TextDecoder().decode(tokenizer.tokenBytes(id));
  try {
    return new Template(source).render({
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: true,
      bos_token: token(tokenizer.bosId),
      eos_token: token(tokenizer.eosId),
    });
  } catch (cause) {
    throw new InfuseError("model.bad_chat_template", `the model's chat template failed: ${String(cause)}`, {
      kind: "input",
      cause,
    });
  }
}

/** Token ids of a chat prompt: special tokens in the template are parsed, BOS added unless it has one. */
export function encodeChat(tokenizer: Tokenizer, messages: readonly ChatMessage[]): number[] {
  const text = renderChat(tokenizer, messages);
  const ids = tokenizer.encode(text, { addSpecial: false, parseSpecial: true });
  const bos = tokenizer.bosId;
  const wantsBos = tokenizer.encode("", { addSpecial: true }).includes(bos ?? -1);
  return wantsBos && bos !== undefined && ids[0] !== bos ? [bos, ...ids] : ids;
}
