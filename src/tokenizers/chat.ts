// Chat templates as the model carries them (tokenizer.chat_template / tokenizer_config.json),
// rendered with @huggingface/jinja. Leaves out tool-call schemas beyond passing `tools` through.
import { Template } from "@huggingface/jinja";
import { InfuseError } from "../core/errors.js";
import type { Tokenizer } from "./types.js";

/** The roles of a chat: those training data, chat templates and every chat model in infuse take. */
export const CHAT_ROLES = ["system", "user", "assistant"] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export function isChatRole(role: unknown): role is ChatRole {
  return (CHAT_ROLES as readonly unknown[]).includes(role);
}

/** One turn of a chat: what a chat template renders, a chat record holds and a chat model answers. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface RenderChatOptions {
  /** Append the assistant turn opener so the model answers next. Default true. */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** Extra variables some templates read (tools, date_string, ...). */
  extra?: Record<string, unknown>;
}

const compiled = new Map<string, Template>();

export function renderChatTemplate(template: string, messages: ChatMessage[], options: RenderChatOptions = {}): string {
  let t = compiled.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new InfuseError("chat_template.invalid", `the chat template does not parse: ${(e as Error).message}`, {
        kind: "input",
        cause: e,
        hint: "fix tokenizer.chat_template or pass a template of your own",
      });
    }
    compiled.set(template, t);
  }
  try {
    return t.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? true,
      bos_token: options.bosToken ?? "",
      eos_token: options.eosToken ?? "",
      ...options.extra,
    });
  } catch (e) {
    throw new InfuseError(
      "chat_template.render_failed",
      `the chat template failed to render: ${(e as Error).message}`,
      {
        kind: "input",
        cause: e,
      },
    );
  }
}

/** Renders `messages` with the tokenizer's own template and BOS/EOS texts. */
export function applyChatTemplate(
  tokenizer: Tokenizer,
  messages: ChatMessage[],
  options: RenderChatOptions = {},
): string {
  const template = tokenizer.chatTemplate;
  if (!template) {
    throw new InfuseError("chat_template.missing", "the model carries no chat template", {
      kind: "input",
      hint: "use a chat model, or pass a template to renderChatTemplate",
    });
  }
  const text = (id: number | undefined) =>
    id === undefined ? "" : Buffer.from(tokenizer.tokenBytes(id)).toString("utf8");
  return renderChatTemplate(template, messages, {
    bosToken: text(tokenizer.bosId),
    eosToken: text(tokenizer.eosId),
    ...options,
  });
}
