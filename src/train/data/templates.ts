// Prompt templates: a record becomes text segments marked trained (responses) or not (prompts), with
// end-of-sequence markers. Built in: the model's own chat template, alpaca, llama-2 chat ([INST]),
// ChatML, and a user file with {system} {instruction} {input} before {output}. Each carries its Jinja
// equivalent (saved with the adapter, so inference prompts as training did). Leaves out tool calls.
import { readFile } from "node:fs/promises";
import { InfuseError } from "../../core/errors.js";
import { applyChatTemplate, type ChatMessage } from "../../tokenizers/chat.js";
import type { Tokenizer } from "../../tokenizers/types.js";
import type { TrainRecord } from "./records.js";

export type Segment = { text: string; train: boolean } | { eos: true };

export interface Template {
  name: string;
  /** Each end-of-sequence marker starts a new chunk; llama-2 chat opens every turn with BOS. */
  bosPerTurn: boolean;
  render(record: TrainRecord): Segment[];
  /** The same prompt format as a Jinja chat template (alternating user/assistant turns). */
  jinja: string;
}

export type TemplateName = "auto" | "model" | "alpaca" | "llama2" | "chatml" | "none";

const ALPACA_HEAD =
  "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n";
const ALPACA_HEAD_INPUT =
  "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n";

/** User/assistant turns of a record (instruction + input joined as the user turn). */
function turns(record: TrainRecord): { system?: string; pairs: { user: string; input: string; assistant: string }[] } {
  if (record.kind === "instruction") {
    return {
      ...(record.system ? { system: record.system } : {}),
      pairs: [{ user: record.instruction, input: record.input, assistant: record.output }],
    };
  }
  if (record.kind === "text") return { pairs: [] };
  const system = record.messages.find((m) => m.role === "system")?.content;
  const pairs: { user: string; input: string; assistant: string }[] = [];
  let user = "";
  for (const m of record.messages) {
    if (m.role === "user") user = user ? `${user}\n\n${m.content}` : m.content;
    if (m.role === "assistant") {
      pairs.push({ user, input: "", assistant: m.content });
      user = "";
    }
  }
  return { ...(system ? { system } : {}), pairs };
}

/** A Jinja string literal of `text`. */
const lit = (text: string): string =>
  `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}'`;

const joinInput = (p: { user: string; input: string }): string => (p.input ? `${p.user}\n\n${p.input}` : p.user);

function textOnly(record: TrainRecord): Segment[] | null {
  return record.kind === "text" ? [{ text: record.text, train: true }] : null;
}

const alpaca: Template = {
  name: "alpaca",
  bosPerTurn: false,
  jinja:
    "{% set ns = namespace(first=true) %}{% for m in messages %}" +
    `{% if m['role'] == 'user' %}{% if ns.first %}{{ ${lit(ALPACA_HEAD)} }}{% else %}{{ '\\n\\n' }}{% endif %}` +
    "{{ '### Instruction:\\n' + m['content'] + '\\n\\n### Response:\\n' }}{% set ns.first = false %}" +
    "{% elif m['role'] == 'assistant' %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}",
  render: (r) =>
    textOnly(r) ??
    turns(r).pairs.flatMap((p, i): Segment[] => {
      const head = i > 0 ? "" : p.input ? ALPACA_HEAD_INPUT : ALPACA_HEAD;
      const input = p.input ? `### Input:\n${p.input}\n\n` : "";
      return [
        { text: `${i > 0 ? "\n\n" : ""}${head}### Instruction:\n${p.user}\n\n${input}### Response:\n`, train: false },
        { text: p.assistant, train: true },
        { eos: true },
      ];
    }),
};

const llama2: Template = {
  name: "llama2",
  bosPerTurn: true,
  jinja:
    // BOS from the second turn on: the first is the tokenizer's (as training encoded it)
    "{% set ns = namespace(sys='', later=false) %}{% for m in messages %}" +
    "{% if m['role'] == 'system' %}{% set ns.sys = m['content'] %}" +
    "{% elif m['role'] == 'user' %}{% if ns.later %}{{ bos_token }}{% endif %}{{ '[INST] ' }}{% set ns.later = true %}" +
    "{% if ns.sys %}{{ '<<SYS>>\\n' + ns.sys + '\\n<</SYS>>\\n\\n' }}{% set ns.sys = '' %}{% endif %}" +
    "{{ m['content'] + ' [/INST]' }}" +
    "{% elif m['role'] == 'assistant' %}{{ ' ' + m['content'] + eos_token }}{% endif %}{% endfor %}",
  render: (r) => {
    const t = textOnly(r);
    if (t) return t;
    const { system, pairs } = turns(r);
    return pairs.flatMap((p, i): Segment[] => {
      const sys = i === 0 && system ? `<<SYS>>\n${system}\n<</SYS>>\n\n` : "";
      return [
        { text: `[INST] ${sys}${joinInput(p)} [/INST]`, train: false },
        { text: ` ${p.assistant}`, train: true },
        { eos: true },
      ];
    });
  },
};

const chatml: Template = {
  name: "chatml",
  bosPerTurn: false,
  jinja:
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  render: (r) => {
    const t = textOnly(r);
    if (t) return t;
    const { system, pairs } = turns(r);
    const out: Segment[] = system ? [{ text: `<|im_start|>system\n${system}<|im_end|>\n`, train: false }] : [];
    for (const p of pairs) {
      out.push({ text: `<|im_start|>user\n${joinInput(p)}<|im_end|>\n<|im_start|>assistant\n`, train: false });
      out.push({ text: `${p.assistant}<|im_end|>`, train: true }, { text: "\n", train: false });
    }
    return out;
  },
};

const none: Template = {
  name: "none",
  bosPerTurn: false,
  jinja:
    "{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}" +
    "{% elif m['role'] == 'assistant' %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}",
  render: (r) =>
    textOnly(r) ??
    turns(r).pairs.flatMap((p): Segment[] => [
      { text: joinInput(p), train: false },
      { text: p.assistant, train: true },
      { eos: true },
    ]),
};

function messagesOf(r: TrainRecord): ChatMessage[] {
  if (r.kind === "chat") return r.messages;
  const { system, pairs } = turns(r);
  return [
    ...(system ? [{ role: "system" as const, content: system }] : []),
    ...pairs.flatMap((p): ChatMessage[] => [
      { role: "user", content: joinInput(p) },
      { role: "assistant", content: p.assistant },
    ]),
  ];
}

/** The model's own chat template: prompt/response cut where rendering with a generation prompt ends. */
function modelTemplate(tokenizer: Tokenizer, maxChars: number | undefined): Template {
  const limit = maxChars !== undefined ? { maxChars } : {};
  return {
    name: "model",
    bosPerTurn: false,
    jinja: tokenizer.chatTemplate ?? "",
    render: (r) => {
      const t = textOnly(r);
      if (t) return t;
      const messages = messagesOf(r);
      const full = applyChatTemplate(tokenizer, messages, { addGenerationPrompt: false, ...limit });
      const out: Segment[] = [];
      let at = 0;
      messages.forEach((m, i) => {
        if (m.role !== "assistant") return;
        const promptEnd = applyChatTemplate(tokenizer, messages.slice(0, i), {
          addGenerationPrompt: true,
          ...limit,
        }).length;
        const turnEnd = applyChatTemplate(tokenizer, messages.slice(0, i + 1), {
          addGenerationPrompt: false,
          ...limit,
        }).length;
        if (
          promptEnd < at ||
          turnEnd < promptEnd ||
          !full.startsWith(
            applyChatTemplate(tokenizer, messages.slice(0, i + 1), { addGenerationPrompt: false, ...limit }),
          )
        ) {
          throw new InfuseError(
            "train.template_not_prefix",
            `${r.where}: the model's chat template does not render turns as prefixes of the conversation`,
            {
              kind: "input",
              hint: "pick a built-in template with --template alpaca|llama2|chatml",
            },
          );
        }
        out.push(
          { text: full.slice(at, promptEnd), train: false },
          { text: full.slice(promptEnd, turnEnd), train: true },
        );
        at = turnEnd;
      });
      if (at < full.length) out.push({ text: full.slice(at), train: false });
      return out;
    },
  };
}

/** A user template: text with {system} {instruction} {input} placeholders, then {output}, then a tail. */
export function fileTemplate(source: string, where: string): Template {
  const at = source.indexOf("{output}");
  if (at < 0) {
    throw new InfuseError("train.bad_template", `${where}: the template has no {output} placeholder`, {
      kind: "input",
      hint: "write the prompt with {instruction} (and {input}, {system}), then {output} where the response goes",
    });
  }
  const head = source.slice(0, at);
  const tail = source.slice(at + "{output}".length);
  const slots: Record<string, string> = { "{system}": "ns.sys", "{instruction}": "m['content']", "{input}": "''" };
  const headJinja = head
    .split(/(\{system\}|\{instruction\}|\{input\})/)
    .map((part) => `{{ ${slots[part] ?? lit(part)} }}`)
    .join("");
  return {
    name: where,
    bosPerTurn: false,
    jinja:
      "{% set ns = namespace(sys='') %}{% for m in messages %}" +
      `{% if m['role'] == 'system' %}{% set ns.sys = m['content'] %}{% elif m['role'] == 'user' %}${headJinja}` +
      `{% elif m['role'] == 'assistant' %}{{ m['content'] + ${lit(tail)} + eos_token }}{% endif %}{% endfor %}`,
    render: (r) => {
      const t = textOnly(r);
      if (t) return t;
      const { system, pairs } = turns(r);
      return pairs.flatMap((p): Segment[] => {
        const prompt = head
          .replaceAll("{system}", system ?? "")
          .replaceAll("{instruction}", p.user)
          .replaceAll("{input}", p.input);
        return [
          { text: prompt, train: false },
          { text: p.assistant, train: true },
          ...(tail ? [{ text: tail, train: false }] : []),
          { eos: true },
        ];
      });
    },
  };
}

/** A built-in template by name ("auto": the model's when it has one, else alpaca) or a template file. */
/** `maxChars`: the longest text the model's own template may render (`limits.templateMaxChars`). */
export async function resolveTemplate(
  name: string,
  tokenizer: Tokenizer,
  options: { maxChars?: number } = {},
): Promise<Template> {
  switch (name) {
    case "auto":
      return tokenizer.chatTemplate ? modelTemplate(tokenizer, options.maxChars) : alpaca;
    case "model":
      if (!tokenizer.chatTemplate) {
        throw new InfuseError("train.no_chat_template", "the model carries no chat template", {
          kind: "usage",
          hint: "use --template alpaca, llama2, chatml or a template file",
        });
      }
      return modelTemplate(tokenizer, options.maxChars);
    case "alpaca":
      return alpaca;
    case "llama2":
      return llama2;
    case "chatml":
      return chatml;
    case "none":
      return none;
    default: {
      let text: string;
      try {
        text = await readFile(name, "utf8");
      } catch (e) {
        throw new InfuseError("train.bad_template", `template "${name}" is neither built in nor a readable file`, {
          kind: "usage",
          hint: "built in: auto, model, alpaca, llama2, chatml, none",
          cause: e,
        });
      }
      return fileTemplate(text, name);
    }
  }
}
