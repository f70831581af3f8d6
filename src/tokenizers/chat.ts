// Chat templates as the model carries them (tokenizer.chat_template / tokenizer_config.json),
// rendered with @huggingface/jinja under a budget (template-runtime.ts): templates come with
// downloaded model files. Leaves out tool-call schemas beyond passing `tools` through.
import { Template } from "@huggingface/jinja";
import { InfuseError, isInfuseError } from "../core/errors.js";
import { DEFAULT_LIMITS } from "../core/limits.js";
import { renderBounded, TEMPLATE_MAX_RANGE, TEMPLATE_MAX_STEPS } from "./template-runtime.js";
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
  /** Longest text the template may render and longest template (characters); default `limits.templateMaxChars`. */
  maxChars?: number;
}

/** Parsed templates, most recently used last; a few distinct templates at a time in practice. */
const compiled = new Map<string, Template>();
const COMPILED_MAX = 16;

/**
 * Renders a chat template. A template that loops too long, builds a huge range() or renders more
 * than `maxChars` fails with `chat_template.limit` before it can exhaust memory.
 */
export function renderChatTemplate(template: string, messages: ChatMessage[], options: RenderChatOptions = {}): string {
  const maxChars = options.maxChars ?? DEFAULT_LIMITS.templateMaxChars;
  if (template.length > maxChars) {
    throw new InfuseError(
      "chat_template.limit",
      `the chat template is ${template.length} characters long (at most ${maxChars})`,
      {
        kind: "input",
        hint: "raise limits.templateMaxChars in infuse.config.json if the template is trusted",
        details: { limit: "limits.templateMaxChars" },
      },
    );
  }
  let t = compiled.get(template);
  if (t) compiled.delete(template);
  else {
    try {
      t = new Template(template);
    } catch (e) {
      throw new InfuseError("chat_template.invalid", `the chat template does not parse: ${(e as Error).message}`, {
        kind: "input",
        cause: e,
        hint: "fix tokenizer.chat_template or pass a template of your own",
      });
    }
  }
  compiled.set(template, t);
  if (compiled.size > COMPILED_MAX) compiled.delete(compiled.keys().next().value!);
  const items = {
    messages,
    add_generation_prompt: options.addGenerationPrompt ?? true,
    bos_token: options.bosToken ?? "",
    eos_token: options.eosToken ?? "",
    ...options.extra,
  };
  try {
    return renderBounded(t, items, { maxChars, maxSteps: TEMPLATE_MAX_STEPS, maxRange: TEMPLATE_MAX_RANGE });
  } catch (e) {
    if (isInfuseError(e)) throw e;
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
