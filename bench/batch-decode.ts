// `npm run bench -- batch-decode [--shapes SmolLM-135M:F32,SmolLM-135M:Q8_0] [--batches 1,2,4,8] [--prompt 64] [--gen 64]`:
// aggregate generation tokens/s of B sequences decoded together (BatchDecoder: prompts by each sequence's decoder, one
// pass over the weights per step for all of them) next to one sequence alone (LlamaDecoder), measured in
// the same run, on random-weight GGUFs in the shapes bench/shapes.ts writes. Then a "join" row per
// prefill chunk: the longest wait between two tokens of 4 running generations while a 1024-token prompt
// joins them (BatchGenerator), chunked (limits.prefillChunk's 256) and whole. Prints the CPU's flags,
// load average and RSS.
import os from "node:os";
import { emit, log, cpuFigure } from "./emit.js";
import { flag, makeModel, SHAPES, type FileType } from "./shapes.js";
import { BatchGenerator, DEFAULT_PREFILL_CHUNK } from "../src/models/batch-generate.js";
import { BatchDecoder, kvBytesPerToken } from "../src/models/llama/batch-decode.js";
import { LlamaDecoder } from "../src/models/llama/decode.js";
import { loadLlamaGguf } from "../src/models/llama/load.js";
import { loadLora } from "../src/models/lora/index.js";
import type { LlamaModel } from "../src/models/llama/model.js";
import { argmax } from "../src/models/sampling.js";
import { Rng } from "../src/tensor/rng.js";

export interface BatchDecodeRow {
  batch: number;
  /** Tokens/s of all B sequences together. */
  tokens_per_s: number;
  /** Tokens/s of one sequence decoded alone (LlamaDecoder), measured in the same run. */
  single_tokens_per_s: number;
  /** tokens_per_s ÷ single_tokens_per_s. */
  ratio: number;
  /** tokens_per_s ÷ the BatchDecoder's own tokens/s at one sequence (the gain of batching alone). */
  ratio_to_batch1: number;
  /** KV cache of one sequence at prompt + gen tokens. */
  kv_mib_per_slot: number;
}

/** BOS then seeded ids from the Llama 2 range every benchmark model has; a different prompt per seed. */
function promptTokens(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 3 + (rng.nextU32() % 31000)));
}

/** A decoding run that can be advanced step by step: one LlamaDecoder, or B sequences in a BatchDecoder. */
interface Runner {
  /** Sequences one step advances. */
  width: number;
  step(): void;
}

function singleRunner(model: LlamaModel, nPrompt: number, room: number): Runner {
  const dec = new LlamaDecoder(model);
  dec.cache.reserve(nPrompt + room);
  let logits = dec.eval(promptTokens(nPrompt, 1));
  return { width: 1, step: () => void (logits = dec.eval([argmax(logits)])) };
}

function batchRunner(model: LlamaModel, b: number, nPrompt: number, room: number): Runner {
  const batch = new BatchDecoder(model);
  const v = model.config.vocabSize;
  const decs = Array.from({ length: b }, () => batch.open(nPrompt + room));
  let tokens = decs.map((d, i) => argmax(d.eval(promptTokens(nPrompt, 1 + i))));
  return {
    width: b,
    step: () => {
      const logits = batch.step(decs, tokens);
      tokens = tokens.map((_, i) => argmax(logits.subarray(i * v, (i + 1) * v)));
    },
  };
}

/**
 * The rows of one model: aggregate tokens/s at each batch size and its ratio to one sequence alone.
 * The runs take turns (ROUNDS rounds of gen/ROUNDS steps each), so a change in the machine's load
 * during the run falls on all of them alike.
 */
export async function batchDecodeRows(
  file: string,
  options: { batches?: number[]; prompt?: number; gen?: number; adapter?: string } = {},
): Promise<BatchDecodeRow[]> {
  const { model } = await loadLlamaGguf(file);
  if (options.adapter) await loadLora(model, options.adapter); // every sequence decodes through it
  const nPrompt = options.prompt ?? 64;
  const nGen = options.gen ?? 64;
  const batches = options.batches ?? [1, 2, 4, 8];
  const rounds = Math.min(ROUNDS, nGen);
  const per = Math.ceil(nGen / rounds);
  const room = rounds * per + 2;
  const runners = [singleRunner(model, nPrompt, room), ...batches.map((b) => batchRunner(model, b, nPrompt, room))];
  for (const r of runners) for (let i = 0; i < 2; i++) r.step(); // warm-up: kernels of each size
  const seconds = runners.map(() => 0);
  for (let round = 0; round < rounds; round++) {
    runners.forEach((r, i) => {
      const t = performance.now();
      for (let s = 0; s < per; s++) r.step();
      seconds[i]! += (performance.now() - t) / 1000;
    });
  }
  const rate = runners.map((r, i) => (r.width * rounds * per) / seconds[i]!);
  const one = rate[0]!;
  const b1 = rate[1 + batches.indexOf(1)] ?? Number.NaN;
  const kvMib = (kvBytesPerToken(model) * (nPrompt + nGen)) / 2 ** 20;
  return batches.map((b, i) => ({
    batch: b,
    tokens_per_s: round(rate[i + 1]!),
    single_tokens_per_s: round(one),
    ratio: round(rate[i + 1]! / one),
    ratio_to_batch1: round(rate[i + 1]! / b1),
    kv_mib_per_slot: round(kvMib),
  }));
}

const ROUNDS = 8;

/**
 * The join rows: 4 generations run; once each has 8 tokens, a `joinPrompt`-token prompt joins. Per
 * prefill chunk: the longest and the median wait between two tokens of the 4 while it joins, and the
 * joining prompt's time to its first token.
 */
async function joinRows(file: string, joinPrompt: number): Promise<Record<string, number>[]> {
  const { model, tokenizer } = await loadLlamaGguf(file);
  const rows: Record<string, number>[] = [];
  for (const chunk of [DEFAULT_PREFILL_CHUNK, joinPrompt]) {
    const gen = new BatchGenerator(model, tokenizer, { maxBatch: 8, prefillChunk: chunk });
    const spans: [number, number][] = []; // [previous token, this token] of the running generations
    let started = 0;
    const runner = async (seed: number): Promise<void> => {
      let last = 0;
      let n = 0;
      for await (const _ of gen.generate(promptTokens(64, seed), { temperature: 0, maxTokens: 64 })) {
        const now = performance.now();
        if (last) spans.push([last, now]);
        last = now;
        if (++n === 8) started++;
      }
    };
    const runs = [1, 2, 3, 4].map((seed) => runner(seed));
    while (started < 4) await new Promise((r) => setImmediate(r));
    const joinT0 = performance.now();
    let joinFirst = 0;
    for await (const _ of gen.generate(promptTokens(joinPrompt, 9), { temperature: 0, maxTokens: 2 })) {
      if (joinFirst === 0) joinFirst = performance.now() - joinT0;
    }
    await Promise.all(runs);
    // the waits that overlap the join: from its arrival to its first token
    const gaps = spans.filter(([a, b]) => b >= joinT0 && a <= joinT0 + joinFirst).map(([a, b]) => b - a);
    gaps.sort((a, b) => a - b);
    rows.push({
      prefill_chunk: chunk,
      join_prompt: joinPrompt,
      longest_gap_ms: round(gaps.at(-1) ?? 0),
      median_gap_ms: round(gaps[Math.floor(gaps.length / 2)] ?? 0),
      join_first_token_ms: round(joinFirst),
    });
  }
  return rows;
}

export default async function (args: string[]): Promise<void> {
  const runs = flag(args, "shapes", "SmolLM-135M:F32,SmolLM-135M:Q8_0").split(",");
  const batches = flag(args, "batches", "1,2,4,8").split(",").map(Number);
  const prompt = Number(flag(args, "prompt", "64"));
  const gen = Number(flag(args, "gen", "64"));
  emit({
    ...cpuFigure("batch-decode"),
    threads: process.env["INFUSE_THREADS"] ?? "default",
    load_average: os.loadavg().map(round),
  });
  for (const run of runs) {
    const [name, type] = run.split(":") as [string, FileType];
    const shape = SHAPES.find((x) => x.name === name);
    if (!shape || !["F32", "Q8_0", "Q4_0"].includes(type)) throw new Error(`unknown shape:type ${run}`);
    const file = await makeModel(shape, type);
    log(`${name} ${type}: batches ${batches.join(", ")}, prompt ${prompt}, ${gen} steps`);
    for (const row of await batchDecodeRows(file, { batches, prompt, gen })) {
      emit({ bench: "batch-decode", model: name, dtype: type.toLowerCase(), prompt, gen, ...row });
    }
    for (const row of await joinRows(file, 1024)) {
      emit({ bench: "batch-decode", model: name, dtype: type.toLowerCase(), figure: "join", ...row });
    }
    // This process holds both the single-sequence and the batched graphs (and every earlier model).
    emit({ bench: "batch-decode", model: name, dtype: type.toLowerCase(), figure: "rss", ...rssMib() });
  }
  emit({ bench: "batch-decode", figure: "load_average_after", load_average: os.loadavg().map(round) });
}

/** Resident memory now and at its peak so far, MiB. */
function rssMib(): { rss_mib: number; peak_rss_mib: number } {
  return {
    rss_mib: round(process.memoryUsage().rss / 2 ** 20),
    peak_rss_mib: round(process.resourceUsage().maxRSS / 1024),
  };
}

const round = (x: number): number => Math.round(x * 100) / 100;
