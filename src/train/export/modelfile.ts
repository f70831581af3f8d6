// An Ollama Modelfile for an exported GGUF: FROM, a TEMPLATE in Ollama's Go template syntax
// translated from the model's Jinja chat template, and PARAMETER stop lines. The common families
// (ChatML, Llama 3, Llama 2, Alpaca, the plain "### Human" prompt) get their known templates, with
// a system message; any other template is rendered once around a placeholder and the text before
// and after it becomes the prompt's wrapper (no system message). Leaves out tools and images.
import { renderChatTemplate } from "../../tokenizers/chat.js";

export type TemplateFamily = "chatml" | "llama3" | "llama2" | "alpaca" | "plain" | "generic";

interface Translated {
  family: TemplateFamily;
  template: string;
  stop: string[];
}

const FAMILIES: { family: TemplateFamily; marker: string; template: string; stop: string[] }[] = [
  {
    family: "chatml",
    marker: "<|im_start|>",
    template:
      "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}" +
      "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
    stop: ["<|im_start|>", "<|im_end|>"],
  },
  {
    family: "llama3",
    marker: "<|start_header_id|>",
    template:
      "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}" +
      "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}" +
      "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>",
    stop: ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
  },
  {
    family: "llama2",
    marker: "[INST]",
    template:
      "[INST] {{ if .System }}<<SYS>>\n{{ .System }}\n<</SYS>>\n\n{{ end }}{{ .Prompt }} [/INST] {{ .Response }}",
    stop: ["[INST]", "[/INST]"],
  },
  {
    family: "alpaca",
    marker: "### Instruction:",
    template:
      "{{ if .System }}{{ .System }}\n\n{{ end }}### Instruction:\n{{ .Prompt }}\n\n### Response:\n{{ .Response }}",
    stop: ["### Instruction:"],
  },
  {
    family: "plain",
    marker: "### Human",
    template: "{{ if .System }}{{ .System }}\n\n{{ end }}### Human\n{{ .Prompt }}\n\n### Assistant\n{{ .Response }}",
    stop: ["### Human", "### System"],
  },
];

const PLACEHOLDER = "\u0000PROMPT\u0000";

/** A Go template string: `{{` and `}}` in literal text written so Go prints them. */
const goLiteral = (text: string): string => text.replace(/\{\{|\}\}/g, (m) => `{{ "${m}" }}`);

/** The Ollama template and stops for a Jinja chat template. */
export function translateTemplate(jinja: string, tokens: { bos?: string; eos?: string } = {}): Translated {
  const known = FAMILIES.find((f) => jinja.includes(f.marker));
  if (known) return { family: known.family, template: known.template, stop: known.stop };
  const rendered = renderChatTemplate(jinja, [{ role: "user", content: PLACEHOLDER }], {
    addGenerationPrompt: true,
    ...(tokens.bos !== undefined ? { bosToken: tokens.bos } : {}),
    ...(tokens.eos !== undefined ? { eosToken: tokens.eos } : {}),
  });
  const at = rendered.indexOf(PLACEHOLDER);
  let head = at < 0 ? "" : rendered.slice(0, at);
  const tail = at < 0 ? "\n" : rendered.slice(at + PLACEHOLDER.length);
  // llama.cpp adds BOS itself: a template's leading BOS would be doubled
  if (tokens.bos && head.startsWith(tokens.bos)) head = head.slice(tokens.bos.length);
  const template = `${goLiteral(head)}{{ .Prompt }}${goLiteral(tail)}{{ .Response }}`;
  return { family: "generic", template, stop: [] };
}

const quote = (s: string): string => JSON.stringify(s);

/** The Modelfile text: FROM the GGUF (a path relative to the Modelfile), TEMPLATE, PARAMETER stop. */
export function modelfile(
  ggufName: string,
  jinja: string | undefined,
  tokens: { bos?: string; eos?: string } = {},
): {
  text: string;
  family: TemplateFamily | null;
} {
  const lines = [`FROM ./${ggufName}`];
  if (!jinja) return { text: lines.join("\n") + "\n", family: null };
  const t = translateTemplate(jinja, tokens);
  if (t.template.includes('"""')) lines.push(`TEMPLATE ${quote(t.template)}`);
  else lines.push(`TEMPLATE """${t.template}"""`);
  for (const s of t.stop) lines.push(`PARAMETER stop ${quote(s)}`);
  return { text: lines.join("\n") + "\n", family: t.family };
}
