// Text generation over a decoder: the prompt is evaluated once, then tokens are sampled one by one
// and streamed as an async iterator of text pieces, ending at max tokens, an end-of-generation token,
// a stop string, or an abort. Several sequences at once: batch-generate.ts.
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
 * One sequence's generation state after its prompt: samples each next token from logits and turns it
 * into text (UTF-8 held until complete, stop strings cut, end-of-generation tokens, max tokens).
 * streamGenerate drives one; BatchGenerator (batch-generate.ts) drives many, so both give the same text.
 */
export class GenerationState {
  readonly promptTokens: number;
  /** Tokens this sequence may generate at most: max tokens, within the context. */
  readonly limit: number;
  readonly tokens: number[] = [];
  finishReason: FinishReason = "length";
  /** No more tokens: ended by max tokens, an end-of-generation token or a stop string. */
  done: boolean;
  private readonly stops: string[];
  private readonly ends: Set<number>;
  private readonly sampler: Sampler;
  private readonly detok: StreamingDecoder;
  private readonly history: number[];
  private text = ""; // generated text so far, stop strings not yet cut
  private emitted = 0; // characters of `text` already handed out

  constructor(tokenizer: Tokenizer, ids: readonly number[], contextLength: number, options: GenerateOptions = {}) {
    this.promptTokens = ids.length;
    this.limit = Math.max(0, Math.min(options.maxTokens ?? 256, contextLength - ids.length));
    this.done = this.limit === 0;
    this.stops = (options.stop ?? []).filter((s) => s.length > 0);
    this.ends = endTokens(tokenizer);
    this.sampler = new Sampler(options);
    this.detok = new StreamingDecoder(tokenizer);
    this.history = [...ids];
  }

  /** The last sampled token: the one to evaluate next. */
  get lastToken(): number {
    return this.tokens[this.tokens.length - 1] ?? -1;
  }

  /** Samples the next token from `logits` (V); returns the chunks to hand out, the last ones when it ends. */
  advance(logits: Float32Array): GenerationChunk[] {
    const token = this.sampler.sample(logits, this.history);
    if (this.ends.has(token)) {
      this.finishReason = "eos";
      return this.end();
    }
    this.tokens.push(token);
    this.history.push(token);
    this.text += this.detok.push(token);
    const { stops, emitted } = this;
    const hit = stops.map((s) => this.text.indexOf(s, Math.max(0, emitted - s.length))).filter((i) => i >= 0);
    if (hit.length > 0) {
      this.text = this.text.slice(0, Math.min(...hit));
      this.finishReason = "stop";
      this.done = true;
      this.emitted = this.text.length;
      return this.text.length > emitted ? [{ token, text: this.text.slice(emitted) }] : [];
    }
    const safe = this.text.length - pendingStopPrefix(this.text, stops);
    const chunk = { token, text: safe > emitted ? this.text.slice(emitted, safe) : "" };
    this.emitted = Math.max(emitted, safe);
    return this.tokens.length >= this.limit ? [chunk, ...this.end()] : [chunk];
  }

  /** Ends the generation here: the text still held back (an incomplete UTF-8 sequence) comes out. */
  private end(): GenerationChunk[] {
    this.done = true;
    this.text += this.detok.flush();
    if (this.text.length <= this.emitted) return [];
    const rest = this.text.slice(this.emitted);
    this.emitted = this.text.length;
    return [{ token: this.tokens[this.tokens.length - 1] ?? -1, text: rest }];
  }

  /** The result, with the times (performance.now()) the prompt started, the prompt ended, and generation ended. */
  result(t0: number, t1: number, t2: number): GenerationResult {
    return {
      text: this.text,
      tokens: this.tokens,
      promptTokens: this.promptTokens,
      finishReason: this.finishReason,
      promptTokensPerSecond: this.promptTokens / Math.max((t1 - t0) / 1000, 1e-9),
      tokensPerSecond: this.tokens.length / Math.max((t2 - t1) / 1000, 1e-9),
    };
  }
}

/** Token ids of a prompt: text is encoded with the model's BOS. */
export function promptIds(tokenizer: Tokenizer, prompt: string | readonly number[]): number[] {
  return typeof prompt === "string" ? tokenizer.encode(prompt) : [...prompt];
}

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
  const ids = promptIds(tokenizer, prompt);
  const state = new GenerationState(tokenizer, ids, model.config.contextLength, options);
  const decoder = new LlamaDecoder(model);
  // the whole generation's cache at once: growing it by doubling would hold up to twice that
  decoder.cache.reserve(Math.min(ids.length + state.limit, model.config.contextLength));
  const t0 = performance.now();
  let logits = decoder.eval(ids);
  const t1 = performance.now();
  while (!state.done) {
    if (options.signal?.aborted) throw cancelledError("generation", options.signal.reason);
    yield* state.advance(logits);
    if (!state.done) {
      logits = decoder.eval([state.lastToken]);
      await tick(); // lets an abort (Ctrl-C) and other work in between tokens
    }
  }
  return state.result(t0, t1, performance.now());
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
