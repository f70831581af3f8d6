// `infuse generate MODEL --prompt TEXT`: runs a Llama-family model in infuse's own engine and streams
// the continuation (or, with --chat, the answer through the chat template: the adapter's when it saved one,
// else the model's, else a plain "### Human / ### Assistant" prompt). --json prints one object.
import { InfuseError } from "../../core/errors.js";
import { encodeChat } from "../../models/chat.js";
import { readAdapterChatTemplate } from "../../models/chat-template.js";
import { chooseNamedChatTemplate, noChatTemplateError } from "../../train/chat-template-choice.js";
import { streamGenerate, type GenerateOptions, type GenerationResult } from "../../models/generate.js";
import { loadLlama } from "../../models/llama/load.js";
import { loadLora } from "../../models/lora/io.js";
import type { RegisterCommand } from "../runtime.js";
import { limitsOf } from "../../core/limits.js";

interface GenerateFlags {
  prompt?: string;
  chat?: string;
  system?: string;
  maxTokens: string;
  temperature: string;
  topK: string;
  topP: string;
  minP: string;
  repeatPenalty: string;
  seed?: string;
  stop?: string[];
  f32?: boolean;
  adapter?: string;
  template?: string;
}

function number(flag: string, value: string, integer = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new InfuseError(
      "cli.bad_number",
      `--${flag} must be ${integer ? "an integer" : "a number"}, got "${value}"`,
      {
        kind: "usage",
      },
    );
  }
  return n;
}

export const registerGenerate: RegisterCommand = (program, run) => {
  program
    .command("generate")
    .argument("<model>", "a .gguf file, a Hugging Face folder (safetensors), or hf:owner/repo[/file]")
    .option("-p, --prompt <text>", "text to continue")
    .option("--chat <message>", "a user message, formatted with the model's chat template")
    .option("--system <text>", "a system message (with --chat)")
    .option("-n, --max-tokens <n>", "tokens to generate at most", "128")
    .option("--temperature <t>", "0 = greedy", "0.8")
    .option("--top-k <k>", "keep the k most likely tokens (0 = all)", "40")
    .option("--top-p <p>", "nucleus sampling threshold (1 = off)", "0.95")
    .option("--min-p <p>", "drop tokens below p × the top probability (0 = off)", "0.05")
    .option("--repeat-penalty <r>", "penalty for tokens seen in the last 64 (1 = off)", "1")
    .option("--seed <n>", "seed for sampling (default random)")
    .option("--stop <text...>", "stop before any of these strings")
    .option("--adapter <dir>", "apply a LoRA adapter folder (PEFT files, e.g. from infuse tune)")
    .option(
      "--template <name|file>",
      "--chat template: chatml|llama2|alpaca|none|plain|model, a Jinja file, or a tune prompt file ({instruction} … {output})",
    )
    .option("--f32", "dequantize quantized weights to f32 at load (faster on small models, more memory)")
    .description("generate text with a Llama-family model (llama, mistral, qwen2) in infuse's engine")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        '  infuse generate stories260K.gguf --prompt "Once upon a time" --temperature 0\n' +
        '  infuse generate ./tinystories-656k-hf -p "Lily saw" -n 64 --seed 1 --json\n' +
        '  infuse generate model.gguf --chat "What is RAG?" --stop "\\n\\n"\n' +
        '\n--json prints {"text", "tokens", "tokens_per_s", ...} once generation ends.\n' +
        "--chat uses --template, else the chat template saved with --adapter (by infuse tune), else the\n" +
        'model\'s; a model without one needs --template (plain: "### Human / ### Assistant");\n' +
        '--json names the one used as "chat_template".',
    )
    .action(
      run(async (rt, model: string, flags: GenerateFlags) => {
        if ((flags.prompt === undefined) === (flags.chat === undefined)) {
          throw new InfuseError("cli.prompt_required", "give exactly one of --prompt or --chat", { kind: "usage" });
        }
        if (flags.template !== undefined && flags.chat === undefined) {
          throw new InfuseError("cli.template_needs_chat", "--template formats a --chat message", {
            kind: "usage",
            hint: "use --chat MESSAGE with --template, or drop --template for --prompt",
          });
        }
        const options: GenerateOptions = {
          maxTokens: number("max-tokens", flags.maxTokens, true),
          temperature: number("temperature", flags.temperature),
          topK: number("top-k", flags.topK, true),
          topP: number("top-p", flags.topP),
          minP: number("min-p", flags.minP),
          repetitionPenalty: number("repeat-penalty", flags.repeatPenalty),
          stop: flags.stop ?? [],
          signal: rt.signal,
        };
        if (flags.seed !== undefined) options.seed = number("seed", flags.seed, true);
        const config = await rt.config();
        const loaded = await loadLlama(model, { config, signal: rt.signal, weights: flags.f32 ? "f32" : "native" });
        if (flags.adapter !== undefined) await loadLora(loaded.model, flags.adapter);
        let prompt: string | number[] = flags.prompt ?? "";
        let template: string | undefined;
        if (flags.chat !== undefined) {
          const adapterTemplate =
            flags.adapter !== undefined ? await readAdapterChatTemplate(flags.adapter) : undefined;
          const chosen = await chooseNamedChatTemplate(flags.template, loaded.tokenizer, adapterTemplate);
          if (!chosen) throw noChatTemplateError(model);
          template = chosen.source === "named" ? flags.template : chosen.source;
          options.stop = [...(options.stop ?? []), ...chosen.stop];
          prompt = encodeChat(
            loaded.tokenizer,
            [
              ...(flags.system !== undefined ? [{ role: "system" as const, content: flags.system }] : []),
              { role: "user" as const, content: flags.chat },
            ],
            { template: chosen.template, maxChars: limitsOf(config).templateMaxChars },
          );
        }
        const stream = streamGenerate(loaded.model, loaded.tokenizer, prompt, options);
        let result: GenerationResult;
        for (;;) {
          const step = await stream.next();
          if (step.done) {
            result = step.value;
            break;
          }
          rt.out.stream(step.value.text);
        }
        rt.out.result(
          {
            text: result.text,
            tokens: result.tokens,
            tokens_per_s: round(result.tokensPerSecond),
            prompt_tokens: result.promptTokens,
            prompt_tokens_per_s: round(result.promptTokensPerSecond),
            finish_reason: result.finishReason,
            dtype: loaded.dtype,
            ...(template !== undefined ? { chat_template: template } : {}),
          },
          (r: { tokens: number[]; tokens_per_s: number; finish_reason: string }) =>
            `\n[${r.tokens.length} tokens, ${r.tokens_per_s} tokens/s, ${r.finish_reason}]`,
        );
      }),
    );
};

const round = (x: number): number => Math.round(x * 100) / 100;
