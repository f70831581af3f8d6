// The chat template a model answers with: the one saved with its LoRA adapter (chat_template.jinja,
// as transformers saves it, or tokenizer_config.json's chat_template), else the model's own, else a
// plain "### Human / ### Assistant" prompt, the format llama.cpp's general wrapper writes.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import type { Tokenizer } from "../tokenizers/types.js";

/** File name of the template saved beside an adapter (transformers ≥ 4.43 writes the same). */
export const CHAT_TEMPLATE_FILE = "chat_template.jinja";

/** The plain prompt for models with no template: node-llama-cpp's GeneralChatWrapper as Jinja. */
export const PLAIN_CHAT_TEMPLATE =
  "{% for m in messages %}" +
  "{% if m['role'] == 'system' %}{% if not loop.first %}{{ '### System\\n' }}{% endif %}{{ m['content'] + '\\n\\n' }}" +
  "{% elif m['role'] == 'user' %}{{ '### Human\\n' + m['content'] + '\\n\\n' }}" +
  "{% elif m['role'] == 'assistant' %}{{ '### Assistant\\n' + m['content'] + '\\n\\n' }}{% endif %}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '### Assistant\\n' }}{% endif %}";

/** Where a plain-prompt answer ends: the model starting the next turn's title. */
export const PLAIN_CHAT_STOPS = ["Human", "Assistant", "System"].flatMap((t) => [
  `\n\n### ${t}`,
  `\n### ${t}`,
  `### ${t}`,
]);

/** Where the template came from: the adapter, the model, the plain fallback, or a name/file the user gave. */
export type ChatTemplateSource = "adapter" | "model" | "plain" | "named";

export interface ChosenTemplate {
  template: string;
  source: ChatTemplateSource;
  /** Stop strings the template needs besides the end-of-generation tokens. */
  stop: string[];
}

/** The adapter's template, else the tokenizer's, else the plain prompt. */
export function chooseChatTemplate(tokenizer: Tokenizer, adapterTemplate: string | undefined): ChosenTemplate {
  if (adapterTemplate) return { template: adapterTemplate, source: "adapter", stop: [] };
  if (tokenizer.chatTemplate) return { template: tokenizer.chatTemplate, source: "model", stop: [] };
  return { template: PLAIN_CHAT_TEMPLATE, source: "plain", stop: PLAIN_CHAT_STOPS };
}

export async function writeAdapterChatTemplate(dir: string, template: string): Promise<string> {
  const file = path.join(dir, CHAT_TEMPLATE_FILE);
  await writeFile(file, template);
  return file;
}

/** The template saved with an adapter, or undefined when it has none (adapters from before templates were saved). */
export async function readAdapterChatTemplate(dir: string): Promise<string | undefined> {
  const jinja = await readOptional(path.join(dir, CHAT_TEMPLATE_FILE));
  if (jinja !== undefined && jinja.trim().length > 0) return jinja;
  const configFile = path.join(dir, "tokenizer_config.json");
  const config = await readOptional(configFile);
  if (config === undefined) return undefined;
  let parsed: { chat_template?: unknown };
  try {
    parsed = JSON.parse(config) as { chat_template?: unknown };
  } catch (e) {
    throw new InfuseError("lora.bad_tokenizer_config", `${configFile} is not valid JSON`, { kind: "input", cause: e });
  }
  const t = parsed.chat_template;
  if (typeof t === "string") return t;
  // newer transformers: a list of named templates; "default" is the chat one
  if (Array.isArray(t)) {
    const named = t.find((x: { name?: unknown }) => x?.name === "default") as { template?: unknown } | undefined;
    if (typeof named?.template === "string") return named.template;
  }
  return undefined;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InfuseError("lora.unreadable", `cannot read ${file}`, { kind: "io", cause: e });
  }
}
