// The random-weight Llama models the llama and lora benchmarks run on: stories15M's, SmolLM-135M's and
// TinyLlama-1.1B's shapes with Llama 2's vocabulary, written once into the temp folder. Kept apart from
// bench/llama.ts so a LoRA child never loads node-llama-cpp (importing it cost ~10% of a training step
// and ~30 MB of RSS).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { log } from "./emit.js";
import { ggufVocabFromSentencePiece } from "../src/formats/convert/vocab.js";
import {
  GGUF_KEYS,
  GgmlType,
  archKey,
  kv,
  quantize as quantizeBlocks,
  writeGguf,
  type GgufTensorInput,
} from "../src/formats/gguf/index.js";
import { exportType } from "../src/train/export/mix.js";
import { Rng } from "../src/tensor/rng.js";

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
  // Only with --shapes TinyLlama-1.1B:Q4_0, :Q4_K or :Q4_K_M (resident memory of a 4-bit 1B model).
  { name: "TinyLlama-1.1B", dim: 2048, layers: 22, heads: 32, kvHeads: 4, ffn: 5632, vocab: 32000, tied: false },
];

export type FileType = "F32" | "Q8_0" | "Q4_0" | "Q4_K" | "Q4_K_M";
export const FILE_TYPES: readonly FileType[] = ["F32", "Q8_0", "Q4_0", "Q4_K", "Q4_K_M"];

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
  if (type.startsWith("Q4_K") && (shape.dim % 256 !== 0 || shape.ffn % 256 !== 0))
    throw new Error(
      `${shape.name}:${type}: Q4_K rows are 256-value blocks; ${shape.name}'s are ${shape.dim} and ${shape.ffn}`,
    );
  const dir = path.join(tmpdir(), "infuse-bench-llama");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${shape.name}-${type}.gguf`);
  if (existsSync(file)) return file;
  log(`writing ${file}`);
  const { dim, ffn, vocab, heads, kvHeads } = shape;
  const hd = dim / heads;
  // Q4_K_M: llama.cpp's mix, as `infuse export --quantize q4_k_m` writes it (Q6_K for the output and
  // for attn_v/ffn_down of the layers use_more_bits picks)
  const typeOf = (name: string, dims: number[]): GgmlType =>
    type === "Q4_K_M" ? exportType("q4_k_m", { name, dims }, shape.layers, shape.tied) : GgmlType[type];
  const rng = new Rng(1);
  // Uniform weights with variance 1/in; matrices quantized here so only their bytes stay in memory.
  const w = (name: string, dims: number[], t: GgmlType = typeOf(name, dims)): GgufTensorInput => {
    const n = dims.reduce((a, b) => a * b, 1);
    const bound = Math.sqrt(3 / dims[0]!);
    const data = new Float32Array(n);
    if (dims.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = (rng.uniform() * 2 - 1) * bound;
    if (dims.length === 1 || t === GgmlType.F32) return { name, dims, type: GgmlType.F32, data };
    // k-quants by our fits (min/max, max-abs), not llama.cpp's search: the same layouts and bytes
    return { name, dims, type: t, bytes: quantizeBlocks(t, data, name) };
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
