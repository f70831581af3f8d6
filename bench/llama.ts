// `npm run bench -- llama [--model PATH | --shapes NAME:TYPE,…] [--threads N] [--prompt 512] [--gen 64] [--no-batch] [--runs N] [--lora R]`: prompt processing and
// generation tokens/s of our decoder next to llama.cpp (node-llama-cpp) on the same GGUF, same threads
// (generation greedy, then with llama.cpp's default sampling), and a row of our aggregate tokens/s
// with 8 sequences decoded together over one alone (bench/batch-decode.ts's rows),
// each in its own child process of compiled JavaScript (as infuse runs from dist/) so peak RSS is its own. No --model: random-weight GGUFs our writer makes
// in stories15M's and SmolLM-135M's shapes, F32 and Q8_0 (`--shapes TinyLlama-1.1B:Q4_0`, `:Q4_K` or `:Q4_K_M`
// for the 1B shape). `--runs N` runs each pair of children N
// times, the two sides taking turns going first, and ends each model with the median and range of
// every ratio over the runs (the figures to report from a shared machine). `--lora R` gives both sides
// the same rank-R adapter on every linear, applied unmerged (ours: loadLora of its PEFT files;
// llama.cpp: its adapter.gguf), as a tuned model is served.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import type { Token } from "node-llama-cpp";
import { compiledBenchRunner, emit, log, peakRssMb, rssMb, cpuFigure } from "./emit.js";
import { batchDecodeRows, type BatchDecodeRow } from "./batch-decode.js";
import { FILE_TYPES, flag, makeModel, SHAPES, type FileType } from "./shapes.js";
import { cpuFeatures } from "../src/tensor/kernels/cpu.js";
import { ggmlTypeName, openGguf } from "../src/formats/gguf/index.js";
import { LlamaDecoder } from "../src/models/llama/decode.js";
import { loadLlamaGguf } from "../src/models/llama/load.js";
import { argmax, Sampler } from "../src/models/sampling.js";
import { Rng, randn } from "../src/tensor/rng.js";
import { attachLora, loadLora, writeLoraFiles } from "../src/models/lora/index.js";

const DEFAULT_RUNS = ["stories15M:F32", "stories15M:Q8_0", "SmolLM-135M:F32", "SmolLM-135M:Q8_0"];

interface Figures {
  prompt_tokens_per_s: number;
  /** One over the median time per generated token: one token slowed by a neighbour on a shared VM does not move it. */
  generate_tokens_per_s: number;
  /** Generated tokens over their total time. */
  generate_mean_tokens_per_s: number;
  /** As generate_tokens_per_s, drawing each token with llama.cpp's default sampling (SAMPLING). */
  sampled_tokens_per_s: number;
  /** Peak RSS of the whole child (Linux VmHWM): what the ratio compares. */
  peak_rss_mb: number;
  /** RSS once the model is loaded (and the context created), before any token. */
  rss_loaded_mb: number;
  /** Peak RSS after the prompt runs, before generation. */
  peak_rss_prompt_mb: number;
}

/** BOS then seeded ids from the Llama 2 range every benchmark model has. */
function promptTokens(n: number): number[] {
  const rng = new Rng(7);
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 3 + (rng.nextU32() % 31000)));
}

/**
 * Prompt runs timed on each side: at least 3, and more until they add up to PROMPT_SECONDS (at most 20).
 * A stories15M prompt takes ~0.05 s, and a run in four was 2–3× slower than the rest on this VM on
 * both sides (collector, scheduler); the median of three took one of them often enough to move the
 * ratio 0.5–2.0 between runs.
 */
const PROMPT_SECONDS = 1;
const morePromptRuns = (times: readonly number[]): boolean =>
  times.length < 3 || (times.length < 20 && times.reduce((a, b) => a + b, 0) < PROMPT_SECONDS);
/** Sequences of the batched-decode row (the figure: 8 together ≥ 4× one alone). */
const BATCH = 8;

/** llama.cpp's default sampler chain settings (and ours): what a chat request gets, not greedy. */
const SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 1 } as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Generation rates from per-token times: the median token's, and the total's. The first token is left
 * out on both sides: node-llama-cpp's first interval holds its generation setup (stories15M: 20 ms,
 * then ~5 ms a token). The median is the ratio's figure: on a busy machine llama.cpp's spinning
 * threads have stalls of tens of ms that the mean carries (stories15M under load 3.6: median 216,
 * mean 116 tokens/s).
 */
function generationRates(times: number[]): Pick<Figures, "generate_tokens_per_s" | "generate_mean_tokens_per_s"> {
  const steps = times.slice(1);
  return {
    generate_tokens_per_s: 1 / median(steps),
    generate_mean_tokens_per_s: steps.length / steps.reduce((a, b) => a + b, 0),
  };
}

/**
 * Child: our decoder, one sequence as llama.cpp's: its KV cache reserved for the run's tokens (llama.cpp's
 * context size) and cleared between runs (its clearHistory). One full-size warm-up run, then the median
 * of the prompt runs (morePromptRuns).
 */
async function runOurs(file: string, nPrompt: number, nGen: number, adapter: string): Promise<Figures> {
  const { model } = await loadLlamaGguf(file);
  if (adapter) await loadLora(model, adapter); // unmerged, as engine:MODEL+ADAPTER serves it
  const loadedMb = rssMb();
  const prompt = promptTokens(nPrompt);
  const dec = new LlamaDecoder(model);
  dec.cache.reserve(nPrompt + 2 * nGen);
  let logits = dec.eval(prompt);
  for (let i = 0; i < 4; i++) logits = dec.eval([argmax(logits)]); // builds the decode-size kernels
  const times: number[] = [];
  while (morePromptRuns(times)) {
    dec.cache.truncate(0);
    const t = performance.now();
    logits = dec.eval(prompt);
    times.push((performance.now() - t) / 1000);
  }
  const promptPeakMb = peakRssMb();
  const steps: number[] = [];
  for (let i = 0; i < nGen; i++) {
    const t = performance.now();
    logits = dec.eval([argmax(logits)]);
    steps.push((performance.now() - t) / 1000);
  }
  // then as many tokens drawn by the sampler, each timed from the logits to the next logits
  const sampler = new Sampler(SAMPLING);
  const sampled: number[] = [];
  for (let i = 0; i < nGen; i++) {
    const t = performance.now();
    logits = dec.eval([sampler.sample(logits)]);
    sampled.push((performance.now() - t) / 1000);
  }
  return {
    prompt_tokens_per_s: nPrompt / median(times),
    ...generationRates(steps),
    sampled_tokens_per_s: generationRates(sampled).generate_tokens_per_s,
    peak_rss_mb: peakRssMb(),
    rss_loaded_mb: loadedMb,
    peak_rss_prompt_mb: promptPeakMb,
  };
}

/** Child: llama.cpp through node-llama-cpp, CPU, same threads, F32 KV cache like ours. */
async function runRef(file: string, nPrompt: number, nGen: number, threads: number, adapter: string): Promise<Figures> {
  // Only in the reference child (importing node-llama-cpp slows ours); the product's runtime: prebuilt binary, never built.
  const { openLlamaRuntime } = await import("../src/rag/llm/llama-runtime.js");
  const llama = await openLlamaRuntime({ maxThreads: threads });
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctx = await model.createContext({
    contextSize: nPrompt + 2 * nGen + 16,
    batchSize: nPrompt,
    threads,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
    // the same adapter in llama.cpp's GGUF LoRA form (writeLoraFiles writes both), applied unmerged too
    ...(adapter ? { lora: { adapters: [{ filePath: path.join(adapter, "adapter.gguf") }] } } : {}),
  });
  const loadedMb = rssMb();
  const prompt = promptTokens(nPrompt);
  const seq = ctx.getSequence();
  await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as Token[]);
  const times: number[] = [];
  while (morePromptRuns(times)) {
    await seq.clearHistory();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as Token[]);
    times.push((performance.now() - t0) / 1000);
  }
  const promptS = median(times);
  const promptPeakMb = peakRssMb();
  const timeTokens = async (first: Token, options: object): Promise<{ steps: number[]; last: Token }> => {
    const steps: number[] = [];
    let last = first;
    let t = performance.now();
    for await (const token of seq.evaluate([first], options)) {
      last = token;
      const now = performance.now();
      steps.push((now - t) / 1000);
      t = now;
      if (steps.length >= nGen) break;
    }
    return { steps, last };
  };
  const greedy = await timeTokens(prompt[prompt.length - 1]! as Token, { temperature: 0 });
  const sampled = await timeTokens(greedy.last, SAMPLING);
  await ctx.dispose();
  await model.dispose();
  await llama.dispose();
  return {
    prompt_tokens_per_s: (nPrompt - 1) / promptS,
    ...generationRates(greedy.steps),
    sampled_tokens_per_s: generationRates(sampled.steps).generate_tokens_per_s,
    peak_rss_mb: peakRssMb(),
    rss_loaded_mb: loadedMb,
    peak_rss_prompt_mb: promptPeakMb,
  };
}

/** Storage type of blk.0.attn_q.weight, as our loader names it. */
async function matrixType(file: string): Promise<string> {
  const g = await openGguf(file);
  const t = g.tensor("blk.0.attn_q.weight")?.type;
  g.close();
  return t === undefined ? "unknown" : ggmlTypeName(t).toLowerCase();
}

function child<T = Figures>(
  which: "ours" | "ref" | "batch",
  runJs: string,
  file: string,
  args: string[],
  threads: number,
): T {
  const r = spawnSync(process.execPath, [runJs, "llama", "--child", which, "--model", file, ...args], {
    encoding: "utf8",
    env: { ...process.env, INFUSE_THREADS: String(threads) },
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(`${which} child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as T;
}

export default async function (args: string[]): Promise<void> {
  const threads = Number(flag(args, "threads", String(availableParallelism())));
  const nPrompt = Number(flag(args, "prompt", "512"));
  const nGen = Number(flag(args, "gen", "64"));
  const role = flag(args, "child", "");
  const model = flag(args, "model", "");
  const adapter = flag(args, "adapter", "");
  if (role === "batch") {
    // 8 sequences decoded together against one alone, in turns in this one child (bench/batch-decode.ts)
    const [row] = await batchDecodeRows(model, { batches: [BATCH], ...(adapter ? { adapter } : {}) });
    process.stdout.write(JSON.stringify(row) + "\n");
    return;
  }
  if (role) {
    const f =
      role === "ours"
        ? await runOurs(model, nPrompt, nGen, adapter)
        : await runRef(model, nPrompt, nGen, threads, adapter);
    process.stdout.write(JSON.stringify(f) + "\n");
    return;
  }
  // The CPU's flags and the path they pick (int8 dot products: Q8_0 on MatMulNBits at every M), with
  // the load average: the machine is shared, so ratios within this run are what count.
  emit({ ...cpuFigure("llama"), int8_dot: cpuFeatures().int8Dot, load_average: loadavg().map(round) });
  const files: { name: string; file: string }[] = [];
  if (model) files.push({ name: path.basename(model, ".gguf"), file: path.resolve(model) });
  else {
    for (const run of flag(args, "shapes", DEFAULT_RUNS.join(",")).split(",")) {
      const [name, type] = run.split(":") as [string, FileType];
      const shape = SHAPES.find((x) => x.name === name);
      if (!shape || !FILE_TYPES.includes(type))
        throw new Error(
          `unknown shape:type ${run} (shapes: ${SHAPES.map((x) => x.name).join(", ")}; types: ${FILE_TYPES.join(", ")})`,
        );
      files.push({ name, file: await makeModel(shape, type) });
    }
  }
  const runs = Number(flag(args, "runs", "1"));
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs takes a whole number ≥ 1, got "${flag(args, "runs", "")}"`);
  const rank = Number(flag(args, "lora", "0"));
  if (!Number.isInteger(rank) || rank < 0) throw new Error(`--lora takes a rank ≥ 1, got "${flag(args, "lora", "")}"`);
  const runJs = compiledBenchRunner();
  for (const { name, file } of files) {
    log(`${name}: ${file} (${threads} threads, ${runs} run${runs > 1 ? "s" : ""})`);
    const dtype = await matrixType(file);
    const adapterDir = rank > 0 ? await benchAdapter(file, rank) : "";
    const pass = [
      ...["--threads", String(threads), "--prompt", String(nPrompt), "--gen", String(nGen)],
      ...(adapterDir ? ["--adapter", adapterDir] : []),
    ];
    // what every row of this model starts with
    const tag = { bench: "llama", model: name, dtype, ...(rank > 0 ? { lora_rank: rank } : {}) };
    const rows: FigureRow[] = [];
    const batches: number[] = [];
    for (let run = 1; run <= runs; run++) {
      // the two sides take turns going first, so a slow spell of the shared VM does not always hit one
      let ours: Figures, ref: Figures;
      if (run % 2 === 1) {
        ours = child("ours", runJs, file, pass, threads);
        ref = child("ref", runJs, file, pass, threads);
      } else {
        ref = child("ref", runJs, file, pass, threads);
        ours = child("ours", runJs, file, pass, threads);
      }
      for (const row of figureRows(ours, ref, nPrompt, nGen)) {
        rows.push(row);
        const load = round(loadavg()[0]!);
        emit({ ...tag, ...row, threads, ...(runs > 1 ? { run } : {}), load_average: load });
      }
      if (args.includes("--no-batch")) continue;
      const batch = child<BatchDecodeRow>("batch", runJs, file, pass, threads);
      batches.push(batch.ratio);
      emit({
        ...tag,
        phase: `batch${BATCH}`,
        threads,
        tokens_per_s: batch.tokens_per_s,
        single_tokens_per_s: batch.single_tokens_per_s,
        ratio_to_single: batch.ratio,
        ...(runs > 1 ? { run } : {}),
        load_average: round(loadavg()[0]!),
      });
    }
    if (runs === 1) continue;
    // each ratio's median and range over the runs: what a figure is reported as on a shared machine
    for (const phase of ["prompt", "generate"] as const) {
      const mine = rows.filter((r) => r.phase === phase);
      emit({
        ...tag,
        phase,
        runs,
        ...spread(
          "ratio",
          mine.map((r) => r.ratio),
        ),
        ...spread(
          "rss_ratio",
          mine.map((r) => r.rss_ratio),
        ),
      });
    }
    if (batches.length) emit({ ...tag, phase: `batch${BATCH}`, runs, ...spread("ratio_to_single", batches) });
  }
}

/**
 * A LoRA adapter of rank r on every linear of the model in `file` (A as attachLora draws it, B seeded
 * small values, alpha 2r), written once as PEFT files and llama.cpp's adapter.gguf (writeLoraFiles),
 * for both children to apply unmerged.
 */
async function benchAdapter(file: string, r: number): Promise<string> {
  const dir = path.join(tmpdir(), "infuse-bench-lora", `${path.basename(file, ".gguf")}-r${r}`);
  if (existsSync(path.join(dir, "adapter.gguf"))) return dir;
  const { model } = await loadLlamaGguf(file);
  const targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
  const set = attachLora(model, { r, alpha: 2 * r, targets, seed: 5 });
  const rng = new Rng(11);
  for (const ad of set.adapters.values()) ad.b.data.set(randn(rng, ad.b.size, 0.01));
  await writeLoraFiles(dir, set, file);
  return dir;
}

/** `key`_median (the middle two's mean for an even count), _min and _max of xs. */
function spread(key: string, xs: number[]): Record<string, number> {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length / 2;
  return {
    [`${key}_median`]: round(s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2),
    [`${key}_min`]: round(Math.min(...xs)),
    [`${key}_max`]: round(Math.max(...xs)),
  };
}

interface FigureRow {
  phase: "prompt" | "generate";
  ratio: number;
  rss_ratio: number;
  [figure: string]: number | string;
}

/** The prompt row and the generate row of one pair of children: ours, llama.cpp's, and their ratios. */
function figureRows(ours: Figures, ref: Figures, nPrompt: number, nGen: number): FigureRow[] {
  return (["prompt", "generate"] as const).map((phase) => {
    const key = phase === "prompt" ? "prompt_tokens_per_s" : "generate_tokens_per_s";
    return {
      phase,
      tokens: phase === "prompt" ? nPrompt : nGen,
      tokens_per_s: round(ours[key]),
      ref_tokens_per_s: round(ref[key]),
      ratio: round(ours[key] / ref[key]),
      // generation over the whole run's time too (the median token's is the ratio above)
      ...(phase === "generate"
        ? {
            mean_tokens_per_s: round(ours.generate_mean_tokens_per_s),
            ref_mean_tokens_per_s: round(ref.generate_mean_tokens_per_s),
            mean_ratio: round(ours.generate_mean_tokens_per_s / ref.generate_mean_tokens_per_s),
            // with llama.cpp's default sampling instead of greedy, on both sides
            sampled_tokens_per_s: round(ours.sampled_tokens_per_s),
            ref_sampled_tokens_per_s: round(ref.sampled_tokens_per_s),
            sampled_ratio: round(ours.sampled_tokens_per_s / ref.sampled_tokens_per_s),
          }
        : {}),
      peak_rss_mb: ours.peak_rss_mb,
      ref_peak_rss_mb: ref.peak_rss_mb,
      rss_ratio: round(ours.peak_rss_mb / ref.peak_rss_mb),
      // Where the peak comes from: resident after loading, then the high-water mark after the prompts.
      rss_loaded_mb: ours.rss_loaded_mb,
      ref_rss_loaded_mb: ref.rss_loaded_mb,
      peak_rss_prompt_mb: ours.peak_rss_prompt_mb,
      ref_peak_rss_prompt_mb: ref.peak_rss_prompt_mb,
    };
  });
}

const round = (x: number): number => Math.round(x * 100) / 100;
