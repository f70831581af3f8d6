// The chat template a user names for inference (`generate --template`, `export`): a built-in
// training template by name (alpaca, llama2, chatml, none) as its Jinja, `plain`, `model`, or a file
// (a Jinja chat template, or a tune prompt file with {instruction} … {output}). Without a name: the
// adapter's, else the model's, else an error asking for one. Leaves out templates from the hub.
import { readFile } from "node:fs/promises";
import { InfuseError } from "../core/errors.js";
import { PLAIN_CHAT_STOPS, PLAIN_CHAT_TEMPLATE, type ChosenTemplate } from "../models/chat-template.js";
import type { Tokenizer } from "../tokenizers/types.js";
import { fileTemplate, resolveTemplate } from "./data/templates.js";

export const CHAT_TEMPLATE_NAMES = ["model", "alpaca", "llama2", "chatml", "none", "plain"] as const;

/** Where a built-in template's answer ends when the model has no token for it. */
const STOPS: Record<string, string[]> = {
  alpaca: ["### Instruction:"],
  llama2: ["[INST]"],
  chatml: ["<|im_end|>", "<|im_start|>"],
};

const HINT =
  "pass --template chatml|llama2|alpaca|plain or a file (a Jinja chat template, or a prompt file with {instruction} and {output}); --prompt continues plain text";

/** The error for --chat on a model that carries no chat template and no --template. */
export function noChatTemplateError(model: string): InfuseError {
  return new InfuseError("cli.no_chat_template", `${model} has no chat template to format a chat message with`, {
    kind: "usage",
    hint: HINT,
    details: { model, templates: [...CHAT_TEMPLATE_NAMES] },
  });
}

/**
 * The template named by `spec` (a name or a file), or without one the adapter's, else the model's;
 * `null` when there is none of those (the caller decides: an error, or a plain prompt).
 */
export async function chooseNamedChatTemplate(
  spec: string | undefined,
  tokenizer: Tokenizer,
  adapterTemplate?: string,
): Promise<ChosenTemplate | null> {
  if (spec === undefined || spec === "auto") {
    if (adapterTemplate) return { template: adapterTemplate, source: "adapter", stop: [] };
    if (tokenizer.chatTemplate) return { template: tokenizer.chatTemplate, source: "model", stop: [] };
    return null;
  }
  if (spec === "plain") return { template: PLAIN_CHAT_TEMPLATE, source: "plain", stop: PLAIN_CHAT_STOPS };
  if (spec === "model") {
    if (!tokenizer.chatTemplate)
      throw new InfuseError("cli.no_chat_template", "the model carries no chat template", {
        kind: "usage",
        hint: HINT,
      });
    return { template: tokenizer.chatTemplate, source: "model", stop: [] };
  }
  if ((CHAT_TEMPLATE_NAMES as readonly string[]).includes(spec)) {
    const t = await resolveTemplate(spec, tokenizer);
    return { template: t.jinja, source: "named", stop: STOPS[spec] ?? [] };
  }
  let text: string;
  try {
    text = await readFile(spec, "utf8");
  } catch (e) {
    throw new InfuseError("cli.bad_template", `template "${spec}" is neither built in nor a readable file`, {
      kind: "usage",
      hint: `built in: ${CHAT_TEMPLATE_NAMES.join(", ")}; or give a file`,
      cause: e,
    });
  }
  const jinja = text.includes("{output}") ? fileTemplate(text, spec).jinja : text;
  return { template: jinja, source: "named", stop: [] };
}
