// Writes a tiny BERT-architecture GGUF that llama.cpp (node-llama-cpp) loads as an embedding
// model: the real all-MiniLM-L6-v2 WordPiece vocab, seeded random weights, the tensor names and
// `bert.*` keys llama.cpp's bert loader reads (src/models/bert.cpp). Untrained; not a real encoder.
import { readFile } from "node:fs/promises";
import { GgmlType, TokenType, kv, writeGguf, type GgufKV, type GgufTensorInput } from "../../src/formats/gguf/index.js";
import { fixture } from "./fixtures.js";
import { gaussian } from "./tiny-encoder.js";

export interface TinyBertOptions {
  hidden?: number;
  layers?: number;
  heads?: number;
  /** Training context (position embeddings); default 128. */
  context?: number;
  /** llama.cpp pooling type: mean (1) or CLS (2). */
  pooling?: "mean" | "cls";
  seed?: number;
  /** Fixture folder whose vocab.txt is used; default all-MiniLM-L6-v2's. */
  tokenizerDir?: string;
  /** Feed-forward width; default 2 × hidden. */
  ff?: number;
}

const SPECIAL = new Map([
  ["[PAD]", TokenType.CONTROL],
  ["[UNK]", TokenType.UNKNOWN],
  ["[CLS]", TokenType.CONTROL],
  ["[SEP]", TokenType.CONTROL],
  ["[MASK]", TokenType.CONTROL],
]);

/** WordPiece tokens as llama.cpp's WPM tokenizer stores them: word starts get "▁", "##" pieces lose it. */
export function wpmToken(token: string): string {
  if (token.startsWith("[") && token.endsWith("]")) return token;
  return token.startsWith("##") ? token.slice(2) : `\u2581${token}`;
}

export async function writeTinyBertGguf(file: string, options: TinyBertOptions = {}): Promise<string> {
  const hidden = options.hidden ?? 32;
  const layers = options.layers ?? 1;
  const heads = options.heads ?? 2;
  const context = options.context ?? 128;
  const ff = options.ff ?? hidden * 2;
  const tokenizerDir = options.tokenizerDir ?? "models/all-MiniLM-L6-v2-tokenizer";
  const vocab = (await readFile(fixture(`${tokenizerDir}/vocab.txt`), "utf8")).split("\n");
  if (vocab.at(-1) === "") vocab.pop();
  const metadata: Record<string, GgufKV> = {
    "general.architecture": kv.str("bert"),
    "general.name": kv.str("tiny-bert-test"),
    "bert.context_length": kv.u32(context),
    "bert.embedding_length": kv.u32(hidden),
    "bert.feed_forward_length": kv.u32(ff),
    "bert.block_count": kv.u32(layers),
    "bert.attention.head_count": kv.u32(heads),
    "bert.attention.layer_norm_epsilon": kv.f32(1e-12),
    "bert.attention.causal": kv.bool(false),
    "bert.pooling_type": kv.u32(options.pooling === "cls" ? 2 : 1),
    "tokenizer.ggml.model": kv.str("bert"),
    "tokenizer.ggml.tokens": kv.strs(vocab.map(wpmToken)),
    "tokenizer.ggml.token_type": kv.i32s(vocab.map((t) => SPECIAL.get(t) ?? TokenType.NORMAL)),
    "tokenizer.ggml.token_type_count": kv.u32(2),
    "tokenizer.ggml.bos_token_id": kv.u32(vocab.indexOf("[CLS]")),
    "tokenizer.ggml.cls_token_id": kv.u32(vocab.indexOf("[CLS]")),
    "tokenizer.ggml.seperator_token_id": kv.u32(vocab.indexOf("[SEP]")),
    "tokenizer.ggml.unknown_token_id": kv.u32(vocab.indexOf("[UNK]")),
    "tokenizer.ggml.padding_token_id": kv.u32(vocab.indexOf("[PAD]")),
    "tokenizer.ggml.mask_token_id": kv.u32(vocab.indexOf("[MASK]")),
  };
  const rand = gaussian(options.seed ?? 11);
  const tensors: GgufTensorInput[] = [];
  // dims are GGML order: [row length, rows]
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    tensors.push({
      name,
      dims,
      type: GgmlType.F32,
      data: Float32Array.from({ length: n }, () => offset + rand() * scale),
    });
  };
  const w = 1 / Math.sqrt(hidden);
  add("token_embd.weight", [hidden, vocab.length], 1);
  add("token_types.weight", [hidden, 2], 0.1);
  add("position_embd.weight", [hidden, context], 0.1);
  add("token_embd_norm.weight", [hidden], 0.05, 1);
  add("token_embd_norm.bias", [hidden], 0.05);
  for (let i = 0; i < layers; i++) {
    for (const p of ["attn_q", "attn_k", "attn_v", "attn_output"]) {
      add(`blk.${i}.${p}.weight`, [hidden, hidden], w);
      add(`blk.${i}.${p}.bias`, [hidden], 0.02);
    }
    add(`blk.${i}.attn_output_norm.weight`, [hidden], 0.05, 1);
    add(`blk.${i}.attn_output_norm.bias`, [hidden], 0.05);
    add(`blk.${i}.ffn_up.weight`, [hidden, ff], w);
    add(`blk.${i}.ffn_up.bias`, [ff], 0.02);
    add(`blk.${i}.ffn_down.weight`, [ff, hidden], 1 / Math.sqrt(ff));
    add(`blk.${i}.ffn_down.bias`, [hidden], 0.02);
    add(`blk.${i}.layer_output_norm.weight`, [hidden], 0.05, 1);
    add(`blk.${i}.layer_output_norm.bias`, [hidden], 0.05);
  }
  await writeGguf(file, { metadata, tensors });
  return file;
}
