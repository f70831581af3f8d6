// `npm run bench -- llama [--model PATH | --shapes NAME:TYPE,…] [--threads N] [--prompt 512] [--gen 64]`: prompt processing and
// generation tokens/s of our decoder next to llama.cpp (node-llama-cpp) on the same GGUF, same threads,
// each in its own child process so peak RSS is its own. No --model: random-weight GGUFs our writer makes
// in stories15M's and SmolLM-135M's shapes, F32 and Q8_0.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, type Token } from "node-llama-cpp";
import { emit, log, peakRssMb } from "./emit.js";
import { ggufVocabFromSentencePiece } from "../src/formats/convert/vocab.js";
import {
  GGUF_KEYS,
  GgmlType,
  archKey,
  ggmlTypeName,
  kv,
  openGguf,
  writeGguf,
  type GgufTensorInput,
} from "../src/formats/gguf/index.js";
import { LlamaDecoder } from "../src/models/llama/decode.js";
import { loadLlamaGguf } from "../src/models/llama/load.js";
import { argmax } from "../src/models/sampling.js";
import { Rng } from "../src/tensor/rng.js";
import { quantize } from "../src/tensor/quant/formats.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Shape {
  name: string;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  tied: boolean;
}

export const SHAPES: Shape[] = [
  { name: "stories15M", dim: 288, layers: 6, heads: 6, kvHeads: 6, ffn: 768, vocab: 32000, tied: false },
  { name: "SmolLM-135M", dim: 576, layers: 30, heads: 9, kvHeads: 3, ffn: 1536, vocab: 49152, tied: true },
  // Only with --shapes TinyLlama-1.1B:Q4_0 (resident memory of a 4-bit 1B model).
  { name: "TinyLlama-1.1B", dim: 2048, layers: 22, heads: 32, kvHeads: 4, ffn: 5632, vocab: 32000, tied: false },
];

export type FileType = "F32" | "Q8_0" | "Q4_0";
const DEFAULT_RUNS = ["stories15M:F32", "stories15M:Q8_0", "SmolLM-135M:F32", "SmolLM-135M:Q8_0"];

interface Figures {
  prompt_tokens_per_s: number;
  generate_tokens_per_s: number;
  peak_rss_mb: number;
}

export function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** Llama 2's SentencePiece vocabulary (32000), padded with unused tokens to `size`. */
function vocabMetadata(size: number) {
  const file = path.resolve(here, "../../shared/fixtures/models/llama2c-tokenizer/tokenizer.model");
  const md = ggufVocabFromSentencePiece(readFileSync(file), file);
  const tokens = md.get(GGUF_KEYS.tokens)!.value as string[];
  const scores = Array.from(md.get(GGUF_KEYS.scores)!.value as Float32Array);
  const types = Array.from(md.get(GGUF_KEYS.tokenType)!.value as Int32Array);
  for (let i = tokens.length; i < size; i++) {
    tokens.push(`<unused_${i}>`);
    scores.push(0);
    types.push(5); // UNUSED
  }
  md.set(GGUF_KEYS.tokens, kv.strs(tokens));
  md.set(GGUF_KEYS.scores, kv.f32s(scores));
  md.set(GGUF_KEYS.tokenType, kv.i32s(types));
  return md;
}

/** Writes (once, cached in the temp folder) a random-weight GGUF of `shape` with matrices in `type`. */
export async function makeModel(shape: Shape, type: FileType): Promise<string> {
  const dir = path.join(tmpdir(), "infuse-bench-llama");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${shape.name}-${type}.gguf`);
  if (existsSync(file)) return file;
  log(`writing ${file}`);
  const { dim, ffn, vocab, heads, kvHeads } = shape;
  const hd = dim / heads;
  const mt = GgmlType[type];
  const rng = new Rng(1);
  // Uniform weights with variance 1/in; matrices quantized here so only their bytes stay in memory.
  const w = (name: string, dims: number[], t: GgmlType = mt): GgufTensorInput => {
    const n = dims.reduce((a, b) => a * b, 1);
    const bound = Math.sqrt(3 / dims[0]!);
    const data = new Float32Array(n);
    if (dims.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = (rng.uniform() * 2 - 1) * bound;
    if (dims.length === 1 || t === GgmlType.F32) return { name, dims, type: GgmlType.F32, data };
    const q = quantize(t === GgmlType.Q8_0 ? "q8_0" : "q4_0", data, [dims[1]!, dims[0]!]);
    return { name, dims, type: t, bytes: q.bytes };
  };
  const a = (k: Parameters<typeof archKey>[1]) => archKey("llama", k);
  const metadata = new Map([
    [GGUF_KEYS.architecture, kv.str("llama")],
    [GGUF_KEYS.name, kv.str(`${shape.name} random`)],
    [a("context_length"), kv.u32(2048)],
    [a("embedding_length"), kv.u32(dim)],
    [a("block_count"), kv.u32(shape.layers)],
    [a("feed_forward_length"), kv.u32(ffn)],
    [a("attention.head_count"), kv.u32(heads)],
    [a("attention.head_count_kv"), kv.u32(kvHeads)],
    [a("attention.layer_norm_rms_epsilon"), kv.f32(1e-5)],
    [a("rope.dimension_count"), kv.u32(hd)],
    [a("vocab_size"), kv.u32(vocab)],
    ...vocabMetadata(vocab),
  ]);
  const tensors: GgufTensorInput[] = [w("token_embd.weight", [dim, vocab])];
  for (let l = 0; l < shape.layers; l++) {
    const p = `blk.${l}`;
    tensors.push(
      w(`${p}.attn_norm.weight`, [dim]),
      w(`${p}.attn_q.weight`, [dim, dim]),
      w(`${p}.attn_k.weight`, [dim, kvHeads * hd]),
      w(`${p}.attn_v.weight`, [dim, kvHeads * hd]),
      w(`${p}.attn_output.weight`, [dim, dim]),
      w(`${p}.ffn_norm.weight`, [dim]),
      w(`${p}.ffn_gate.weight`, [dim, ffn]),
      w(`${p}.ffn_up.weight`, [dim, ffn]),
      w(`${p}.ffn_down.weight`, [ffn, dim]),
    );
  }
  tensors.push(w("output_norm.weight", [dim]));
  if (!shape.tied) tensors.push(w("output.weight", [dim, vocab]));
  await writeGguf(file, { metadata, tensors });
  return file;
}

/** BOS then seeded ids from the Llama 2 range every benchmark model has. */
function promptTokens(n: number): number[] {
  const rng = new Rng(7);
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 3 + (rng.nextU32() % 31000)));
}

const REPEATS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Child: our decoder. One full-size warm-up run, then the median of REPEATS prompt runs (as llama.cpp's). */
async function runOurs(file: string, nPrompt: number, nGen: number): Promise<Figures> {
  const { model } = await loadLlamaGguf(file);
  const prompt = promptTokens(nPrompt);
  const warm = new LlamaDecoder(model);
  let warmLogits = warm.eval(prompt);
  for (let i = 0; i < 4; i++) warmLogits = warm.eval([argmax(warmLogits)]); // builds the decode-size kernels
  const times: number[] = [];
  let dec = new LlamaDecoder(model);
  let logits: Float32Array = new Float32Array(0);
  for (let r = 0; r < REPEATS; r++) {
    dec = new LlamaDecoder(model);
    const t = performance.now();
    logits = dec.eval(prompt);
    times.push((performance.now() - t) / 1000);
  }
  const t = performance.now();
  for (let i = 0; i < nGen; i++) logits = dec.eval([argmax(logits)]);
  const genS = (performance.now() - t) / 1000;
  return { prompt_tokens_per_s: nPrompt / median(times), generate_tokens_per_s: nGen / genS, peak_rss_mb: peakRssMb() };
}

/** Child: llama.cpp through node-llama-cpp, CPU, same threads, F32 KV cache like ours. */
async function runRef(file: string, nPrompt: number, nGen: number, threads: number): Promise<Figures> {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never, progressLogs: false });
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctx = await model.createContext({
    contextSize: nPrompt + nGen + 16,
    batchSize: nPrompt,
    threads,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
  });
  const prompt = promptTokens(nPrompt);
  const seq = ctx.getSequence();
  await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as Token[]);
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    await seq.clearHistory();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as Token[]);
    times.push((performance.now() - t0) / 1000);
  }
  const promptS = median(times);
  const t = performance.now();
  let n = 0;
  for await (const token of seq.evaluate([prompt[prompt.length - 1]! as Token], { temperature: 0 })) {
    void token;
    if (++n >= nGen) break;
  }
  const genS = (performance.now() - t) / 1000;
  await ctx.dispose();
  await model.dispose();
  await llama.dispose();
  return { prompt_tokens_per_s: (nPrompt - 1) / promptS, generate_tokens_per_s: nGen / genS, peak_rss_mb: peakRssMb() };
}

/** Storage type of blk.0.attn_q.weight, as our loader names it. */
async function matrixType(file: string): Promise<string> {
  const g = await openGguf(file);
  const t = g.tensor("blk.0.attn_q.weight")?.type;
  g.close();
  return t === undefined ? "unknown" : ggmlTypeName(t).toLowerCase();
}

function child(which: "ours" | "ref", file: string, args: string[], threads: number): Figures {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", path.join(here, "run.ts"), "llama", "--child", which, "--model", file, ...args],
    { encoding: "utf8", env: { ...process.env, INFUSE_THREADS: String(threads) }, maxBuffer: 1 << 24 },
  );
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(`${which} child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as Figures;
}

export default async function (args: string[]): Promise<void> {
  const threads = Number(flag(args, "threads", String(availableParallelism())));
  const nPrompt = Number(flag(args, "prompt", "512"));
  const nGen = Number(flag(args, "gen", "64"));
  const role = flag(args, "child", "");
  const model = flag(args, "model", "");
  if (role) {
    const f = role === "ours" ? await runOurs(model, nPrompt, nGen) : await runRef(model, nPrompt, nGen, threads);
    process.stdout.write(JSON.stringify(f) + "\n");
    return;
  }
  const files: { name: string; file: string }[] = [];
  if (model) files.push({ name: path.basename(model, ".gguf"), file: path.resolve(model) });
  else {
    for (const run of flag(args, "shapes", DEFAULT_RUNS.join(",")).split(",")) {
      const [name, type] = run.split(":") as [string, FileType];
      const shape = SHAPES.find((x) => x.name === name);
      if (!shape || !["F32", "Q8_0", "Q4_0"].includes(type)) throw new Error(`unknown shape:type ${run}`);
      files.push({ name, file: await makeModel(shape, type) });
    }
  }
  const pass = ["--threads", String(threads), "--prompt", String(nPrompt), "--gen", String(nGen)];
  for (const { name, file } of files) {
    log(`${name}: ${file} (${threads} threads)`);
    const ours = child("ours", file, pass, threads);
    const ref = child("ref", file, pass, threads);
    const dtype = await matrixType(file);
    for (const phase of ["prompt", "generate"] as const) {
      const key = phase === "prompt" ? "prompt_tokens_per_s" : "generate_tokens_per_s";
      emit({
        bench: "llama",
        model: name,
        dtype,
        phase,
        tokens: phase === "prompt" ? nPrompt : nGen,
        threads,
        tokens_per_s: round(ours[key]),
        ref_tokens_per_s: round(ref[key]),
        ratio: round(ours[key] / ref[key]),
        peak_rss_mb: ours.peak_rss_mb,
        ref_peak_rss_mb: ref.peak_rss_mb,
      });
    }
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;
