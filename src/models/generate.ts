// Text generation over a decoder: the prompt is evaluated once, then tokens are sampled one by one
// and streamed as an async iterator of text pieces, ending at max tokens, an end-of-generation token,
// a stop string, or an abort. Leaves out batching several prompts.
import { cancelledError } from "../core/errors.js";
import { StreamingDecoder } from "../tokenizers/decode.js";
import type { Tokenizer } from "../tokenizers/types.js";
import { LlamaDecoder } from "./llama/decode.js";
import type { LlamaModel } from "./llama/model.js";
import { Sampler, type SamplingOptions } from "./sampling.js";

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 256). */
  maxTokens?: number;
  /** Generation ends before the first occurrence of any of these; the stop text is not returned. */
  stop?: string[];
  signal?: AbortSignal;
}

export interface GenerationChunk {
  /** The sampled token id. */
  token: number;
  /** Text this token completes (may be "" while a UTF-8 sequence or a possible stop string is pending). */
  text: string;
}

export type FinishReason = "length" | "eos" | "stop";

export interface GenerationResult {
  text: string;
  /** Generated token ids (the end-of-generation token is not included). */
  tokens: number[];
  promptTokens: number;
  finishReason: FinishReason;
  /** Prompt tokens per second of the prompt evaluation. */
  promptTokensPerSecond: number;
  /** Generated tokens per second, prompt evaluation excluded. */
  tokensPerSecond: number;
}

/** Texts of control tokens that end a turn in common chat templates (llama.cpp's end-of-generation set). */
const END_OF_GENERATION = [
  "</s>",
  "<|endoftext|>",
  "<|im_end|>",
  "<|eot_id|>",
  "<|end|>",
  "<end_of_turn>",
  "<|eom_id|>",
];

function endTokens(tokenizer: Tokenizer): Set<number> {
  const out = new Set<number>();
  if (tokenizer.eosId !== undefined) out.add(tokenizer.eosId);
  for (const text of END_OF_GENERATION) {
    const id = tokenizer.tokenId(text);
    if (id !== undefined && tokenizer.isSpecial(id)) out.add(id);
  }
  return out;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function pendingStopPrefix(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
      if (text.endsWith(s.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Streams generated text. `prompt` is text (encoded with the model's BOS) or token ids.
 * The iterator's return value (from `.next()` when done) is the GenerationResult.
 */
export async function* streamGenerate(
  model: LlamaModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerationChunk, GenerationResult> {
  const ids = typeof prompt === "string" ? tokenizer.encode(prompt) : [...prompt];
  const maxTokens = options.maxTokens ?? 256;
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const ends = endTokens(tokenizer);
  const sampler = new Sampler(options);
  const decoder = new LlamaDecoder(model);
  const detok = new StreamingDecoder(tokenizer);
  const history = [...ids];
  const tokens: number[] = [];
  let text = ""; // generated text so far, stop strings not yet cut
  let emitted = 0; // characters of `text` already yielded
  let finishReason: FinishReason = "length";
  const t0 = performance.now();
  let logits = decoder.eval(ids);
  const t1 = performance.now();
  const room = model.config.contextLength - ids.length;
  for (let n = 0; n < Math.min(maxTokens, room); n++) {
    if (options.signal?.aborted) throw cancelledError("generation", options.signal.reason);
    const token = sampler.sample(logits, history);
    if (ends.has(token)) {
      finishReason = "eos";
      break;
    }
    tokens.push(token);
    history.push(token);
    text += detok.push(token);
    const hit = stops.map((s) => text.indexOf(s, Math.max(0, emitted - s.length))).filter((i) => i >= 0);
    if (hit.length > 0) {
      text = text.slice(0, Math.min(...hit));
      finishReason = "stop";
      if (text.length > emitted) yield { token, text: text.slice(emitted) };
      emitted = text.length;
      break;
    }
    const safe = text.length - pendingStopPrefix(text, stops);
    yield { token, text: safe > emitted ? text.slice(emitted, safe) : "" };
    emitted = Math.max(emitted, safe);
    if (n + 1 < Math.min(maxTokens, room)) {
      logits = decoder.eval([token]);
      await tick(); // lets an abort (Ctrl-C) and other work in between tokens
    }
  }
  if (finishReason !== "stop") {
    text += detok.flush();
    if (text.length > emitted) yield { token: tokens[tokens.length - 1] ?? -1, text: text.slice(emitted) };
  }
  const t2 = performance.now();
  return {
    text,
    tokens,
    promptTokens: ids.length,
    finishReason,
    promptTokensPerSecond: ids.length / Math.max((t1 - t0) / 1000, 1e-9),
    tokensPerSecond: tokens.length / Math.max((t2 - t1) / 1000, 1e-9),
  };
}

/** Runs a whole generation and returns its result. */
export async function generate(
  model: LlamaModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
): Promise<GenerationResult> {
  const it = streamGenerate(model, tokenizer, prompt, options);
  for (;;) {
    const step = await it.next();
    if (step.done) return step.value;
  }
}
