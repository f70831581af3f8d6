// Continuous batching: many generations over one model, decoded together. A generation waits until a
// slot is free (at most maxBatch at once), has its prompt evaluated alone (its LlamaDecoder, through the
// same layer graphs) in chunks of prefillChunk tokens, one chunk between two decode steps, so a long
// prompt joining slows the running sequences' tokens instead of pausing them; then it joins the batch.
// Every step appends one token to each running sequence in one BatchDecoder step, and a sequence leaves
// when it ends (max tokens, end of generation, stop string), is aborted, or its reader stops reading.
// Each sequence keeps its own sampler, seed and stop strings: its text is the text streamGenerate gives.
import { cancelledError, InfuseError } from "../core/errors.js";
import type { Tokenizer } from "../tokenizers/types.js";
import { BatchDecoder } from "./llama/batch-decode.js";
import type { LlamaDecoder } from "./llama/decode.js";
import type { LlamaModel } from "./llama/model.js";
import {
  GenerationState,
  promptIds,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationResult,
} from "./generate.js";

/** Sequences decoded together by default: 8 gave ≥ 4× one sequence's tokens/s on SmolLM-135M (bench/batch-decode.ts). */
export const DEFAULT_MAX_BATCH = 8;

/**
 * Prompt tokens a joining sequence evaluates between two decode steps by default: on SmolLM-135M at
 * ~800 prompt tokens/s (2 cores) a running sequence waits ~0.3 s more for one token, not the whole prompt.
 */
export const DEFAULT_PREFILL_CHUNK = 256;

export interface BatchGeneratorOptions {
  /** Most sequences decoded together; later ones wait for a slot (default 8). */
  maxBatch?: number;
  /** Prompt tokens a joining sequence evaluates between two decode steps (default 256). */
  prefillChunk?: number;
}

interface Entry {
  ids: number[];
  /** Prompt tokens evaluated so far. */
  prefilled: number;
  options: GenerateOptions;
  state: GenerationState;
  decoder?: LlamaDecoder;
  chunks: GenerationChunk[];
  result?: GenerationResult;
  error?: unknown;
  /** The reader stopped reading (break, return, throw). */
  left: boolean;
  t0: number;
  t1: number;
  wake?: () => void;
}

export interface BatchStats {
  /** Decode steps run (prompt evaluations not counted). */
  steps: number;
  /** Prompt chunks evaluated, all sequences together. */
  prefillChunks: number;
  /** Tokens those steps decoded, all sequences together. */
  tokens: number;
  /** The most sequences one step decoded. */
  largestBatch: number;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class BatchGenerator {
  readonly maxBatch: number;
  readonly prefillChunk: number;
  readonly stats: BatchStats = { steps: 0, prefillChunks: 0, tokens: 0, largestBatch: 0 };
  private readonly batch: BatchDecoder;
  private readonly waiting: Entry[] = [];
  /** Admitted (a slot and a decoder each), their prompts part evaluated. */
  private readonly prefilling: Entry[] = [];
  private readonly running: Entry[] = [];
  private looping = false;

  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    options: BatchGeneratorOptions = {},
  ) {
    const max = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isInteger(max) || max < 1) {
      throw new InfuseError("batch.bad_option", `maxBatch must be an integer ≥ 1, got ${max}`, {
        kind: "usage",
        hint: "set limits.maxBatch in infuse.config.json to 1 or more",
      });
    }
    const chunk = options.prefillChunk ?? DEFAULT_PREFILL_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 1) {
      throw new InfuseError("batch.bad_option", `prefillChunk must be an integer ≥ 1, got ${chunk}`, {
        kind: "usage",
        hint: "set limits.prefillChunk in infuse.config.json to 1 or more",
      });
    }
    this.maxBatch = max;
    this.prefillChunk = chunk;
    this.batch = new BatchDecoder(model);
  }

  /** Sequences holding a slot (decoding, or evaluating their prompt), and waiting for one. */
  get load(): { running: number; waiting: number } {
    return { running: this.running.length + this.prefilling.length, waiting: this.waiting.length };
  }

  /**
   * Streams one generation, as streamGenerate does (same chunks, same result), decoded in the batch.
   * It is queued on the first `.next()`; leaving the loop early frees its slot.
   */
  async *generate(
    prompt: string | readonly number[],
    options: GenerateOptions = {},
  ): AsyncGenerator<GenerationChunk, GenerationResult> {
    const ids = promptIds(this.tokenizer, prompt);
    const entry: Entry = {
      ids,
      prefilled: 0,
      options,
      state: new GenerationState(this.tokenizer, ids, this.model.config.contextLength, options),
      chunks: [],
      left: false,
      t0: 0,
      t1: 0,
    };
    this.waiting.push(entry);
    if (!this.looping) {
      this.looping = true;
      void this.run();
    }
    try {
      for (;;) {
        const chunk = entry.chunks.shift();
        if (chunk) {
          yield chunk;
          continue;
        }
        if (entry.error !== undefined) throw entry.error;
        if (entry.result) return entry.result;
        await new Promise<void>((resolve) => (entry.wake = resolve));
      }
    } finally {
      entry.left = true;
    }
  }

  /** Admits waiting sequences and steps the batch until no sequence is left. */
  private async run(): Promise<void> {
    try {
      while (this.waiting.length > 0 || this.prefilling.length > 0 || this.running.length > 0) {
        for (const queue of [this.waiting, this.prefilling]) {
          const kept = queue.filter((e) => !this.dropIfGone(e)); // aborted or left before decoding
          queue.splice(0, queue.length, ...kept);
        }
        this.admit();
        this.prefill();
        const live = this.running.filter((e) => !this.dropIfGone(e));
        this.running.splice(0, this.running.length, ...live);
        if (live.length > 0) this.step(live);
        await tick(); // lets new requests, aborts and readers in between steps
      }
    } catch (error) {
      for (const e of [...this.running, ...this.prefilling, ...this.waiting]) this.fail(e, error); // a bug, not a model error: no reader hangs
      this.running.length = 0;
      this.prefilling.length = 0;
      this.waiting.length = 0;
    } finally {
      this.looping = false; // set in the same turn as the last check, so a new request starts a new loop
    }
  }

  /** Gives waiting sequences the free slots: a decoder each, their prompts still to evaluate. */
  private admit(): void {
    while (this.running.length + this.prefilling.length < this.maxBatch && this.waiting.length > 0) {
      const e = this.waiting.shift()!;
      try {
        e.decoder = this.batch.open(e.ids.length + e.state.limit);
        this.prefilling.push(e);
      } catch (error) {
        this.fail(e, error);
      }
    }
  }

  /**
   * Evaluates the next prefillChunk tokens of the first admitted prompt (all of it while no sequence is
   * decoding: none waits). The last chunk's logits give its first token, and the sequence joins the
   * running ones.
   */
  private prefill(): void {
    const e = this.prefilling[0];
    if (!e) return;
    try {
      if (e.prefilled === 0) e.t0 = performance.now();
      const chunk = this.running.length > 0 ? this.prefillChunk : e.ids.length;
      const end = Math.min(e.ids.length, e.prefilled + chunk);
      const logits = e.decoder!.eval(e.ids.slice(e.prefilled, end)); // a prompt past the context fails here, as alone
      this.stats.prefillChunks++;
      e.prefilled = end;
      if (end < e.ids.length) return;
      this.prefilling.shift();
      e.t1 = performance.now();
      if (e.state.done)
        this.finish(e); // nothing to generate (maxTokens 0, or the prompt fills the context)
      else this.deliver(e, logits);
    } catch (error) {
      this.prefilling.shift();
      this.fail(e, error);
    }
    if (e.decoder && !e.state.done) this.running.push(e);
  }

  /** One token for every running sequence, in one batched step. */
  private step(live: Entry[]): void {
    let logits: Float32Array;
    try {
      logits = this.batch.step(
        live.map((e) => e.decoder!),
        live.map((e) => e.state.lastToken),
      );
    } catch (error) {
      for (const e of live) this.fail(e, error);
      this.running.length = 0;
      return;
    }
    this.stats.steps++;
    this.stats.tokens += live.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, live.length);
    const v = this.model.config.vocabSize;
    live.forEach((e, i) => this.deliver(e, logits.subarray(i * v, (i + 1) * v)));
    this.running.splice(0, this.running.length, ...live.filter((e) => e.decoder));
  }

  /** Samples a sequence's next token from its logits and hands out its chunks; ends it when it is done. */
  private deliver(e: Entry, logits: Float32Array): void {
    if (this.dropIfGone(e)) return;
    try {
      e.chunks.push(...e.state.advance(logits));
    } catch (error) {
      this.fail(e, error);
      return;
    }
    if (e.state.done) this.finish(e);
    else this.notify(e);
  }

  private finish(e: Entry): void {
    e.result = e.state.result(e.t0, e.t1, performance.now());
    this.release(e);
    this.notify(e);
  }

  /** True (and the sequence removed) when its reader left or its signal aborted. */
  private dropIfGone(e: Entry): boolean {
    if (e.left) {
      this.release(e);
      return true;
    }
    const signal = e.options.signal;
    if (signal?.aborted) {
      this.fail(e, cancelledError("generation", signal.reason));
      return true;
    }
    return false;
  }

  private fail(e: Entry, error: unknown): void {
    e.error ??= error;
    this.release(e);
    this.notify(e);
  }

  private release(e: Entry): void {
    if (e.decoder) this.batch.close(e.decoder);
    delete e.decoder;
  }

  private notify(e: Entry): void {
    const wake = e.wake;
    delete e.wake;
    wake?.();
  }
}
