// Tiny models with seeded random weights, written by our GGUF writer, for tests that need a
// model llama.cpp will load (tokenizer parity, quant cross-checks). Leaves out training.
import { GGUF_KEYS, GgmlType, archKey, kv, type GgufKV, type GgufTensorInput } from "../../src/formats/gguf/index.js";

/** Deterministic uniform(-scale, scale) values (mulberry32). */
export function seededFloats(n: number, seed: number, scale = 0.1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export interface TinyLlamaOptions {
  vocabSize: number;
  embd?: number;
  ff?: number;
  heads?: number;
  kvHeads?: number;
  layers?: number;
  /** Type of the 2-D weight matrices (token_embd excluded unless `embdType`). */
  matrixType?: GgmlType;
  /** Tokenizer metadata (tokenizer.ggml.*) to carry. */
  tokenizer: Map<string, GgufKV>;
  seed?: number;
}

/** A llama-architecture model: metadata + tensors, ready for writeGguf. */
export function tinyLlama(o: TinyLlamaOptions): { metadata: Map<string, GgufKV>; tensors: GgufTensorInput[] } {
  const embd = o.embd ?? 64;
  const ff = o.ff ?? 96;
  const heads = o.heads ?? 4;
  const kvHeads = o.kvHeads ?? 2;
  const layers = o.layers ?? 1;
  const seed = o.seed ?? 1;
  const mt = o.matrixType ?? GgmlType.F32;
  const headDim = embd / heads;
  const md = new Map<string, GgufKV>([
    [GGUF_KEYS.architecture, kv.str("llama")],
    [GGUF_KEYS.name, kv.str("tiny-llama-test")],
    [archKey("llama", "context_length"), kv.u32(256)],
    [archKey("llama", "embedding_length"), kv.u32(embd)],
    [archKey("llama", "block_count"), kv.u32(layers)],
    [archKey("llama", "feed_forward_length"), kv.u32(ff)],
    [archKey("llama", "attention.head_count"), kv.u32(heads)],
    [archKey("llama", "attention.head_count_kv"), kv.u32(kvHeads)],
    [archKey("llama", "attention.layer_norm_rms_epsilon"), kv.f32(1e-5)],
    [archKey("llama", "rope.dimension_count"), kv.u32(headDim)],
    ...o.tokenizer,
  ]);
  let n = seed;
  const w = (name: string, dims: number[], type: GgmlType = mt): GgufTensorInput => ({
    name,
    dims,
    type,
    data: seededFloats(
      dims.reduce((a, b) => a * b, 1),
      n++,
      dims.length === 1 ? 0 : 0.5 / Math.sqrt(dims[0]!),
    ).map((v) => (dims.length === 1 ? 1 + v : v)),
  });
  const tensors: GgufTensorInput[] = [w("token_embd.weight", [embd, o.vocabSize], GgmlType.F32)];
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}`;
    tensors.push(
      w(`${p}.attn_norm.weight`, [embd], GgmlType.F32),
      w(`${p}.attn_q.weight`, [embd, embd]),
      w(`${p}.attn_k.weight`, [embd, kvHeads * headDim]),
      w(`${p}.attn_v.weight`, [embd, kvHeads * headDim]),
      w(`${p}.attn_output.weight`, [embd, embd]),
      w(`${p}.ffn_norm.weight`, [embd], GgmlType.F32),
      w(`${p}.ffn_gate.weight`, [embd, ff]),
      w(`${p}.ffn_up.weight`, [embd, ff]),
      w(`${p}.ffn_down.weight`, [ff, embd]),
    );
  }
  tensors.push(w("output_norm.weight", [embd], GgmlType.F32), w("output.weight", [embd, o.vocabSize]));
  return { metadata: md, tensors };
}

export interface TinyBertOptions {
  vocabSize: number;
  tokenizer: Map<string, GgufKV>;
  embd?: number;
  ff?: number;
  heads?: number;
  layers?: number;
  context?: number;
  /** llama.cpp pooling type: 1 mean, 2 cls. */
  pooling?: number;
  seed?: number;
}

/** A BERT-architecture embedding model that llama.cpp loads (embedding context, mean pooling). */
export function tinyBert(o: TinyBertOptions): { metadata: Map<string, GgufKV>; tensors: GgufTensorInput[] } {
  const embd = o.embd ?? 32;
  const ff = o.ff ?? 64;
  const layers = o.layers ?? 1;
  const ctx = o.context ?? 128;
  const md = new Map<string, GgufKV>([
    [GGUF_KEYS.architecture, kv.str("bert")],
    [GGUF_KEYS.name, kv.str("tiny-bert-test")],
    [archKey("bert", "context_length"), kv.u32(ctx)],
    [archKey("bert", "embedding_length"), kv.u32(embd)],
    [archKey("bert", "feed_forward_length"), kv.u32(ff)],
    [archKey("bert", "block_count"), kv.u32(layers)],
    [archKey("bert", "attention.head_count"), kv.u32(o.heads ?? 2)],
    [archKey("bert", "attention.layer_norm_epsilon"), kv.f32(1e-12)],
    [archKey("bert", "attention.causal"), kv.bool(false)],
    [archKey("bert", "pooling_type"), kv.u32(o.pooling ?? 1)],
    [GGUF_KEYS.tokenTypeCount, kv.u32(2)],
    ...o.tokenizer,
  ]);
  let n = o.seed ?? 1;
  const w = (name: string, dims: number[], base = 0): GgufTensorInput => ({
    name,
    dims,
    type: GgmlType.F32,
    data: seededFloats(
      dims.reduce((a, b) => a * b, 1),
      n++,
      dims.length === 1 ? 0.05 : 0.5 / Math.sqrt(dims[0]!),
    ).map((v) => base + v),
  });
  const tensors: GgufTensorInput[] = [
    w("token_embd.weight", [embd, o.vocabSize]),
    w("token_types.weight", [embd, 2]),
    w("position_embd.weight", [embd, ctx]),
    w("token_embd_norm.weight", [embd], 1),
    w("token_embd_norm.bias", [embd]),
  ];
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}`;
    for (const part of ["attn_q", "attn_k", "attn_v", "attn_output"]) {
      tensors.push(w(`${p}.${part}.weight`, [embd, embd]), w(`${p}.${part}.bias`, [embd]));
    }
    tensors.push(
      w(`${p}.attn_output_norm.weight`, [embd], 1),
      w(`${p}.attn_output_norm.bias`, [embd]),
      w(`${p}.ffn_up.weight`, [embd, ff]),
      w(`${p}.ffn_up.bias`, [ff]),
      w(`${p}.ffn_down.weight`, [ff, embd]),
      w(`${p}.ffn_down.bias`, [embd]),
      w(`${p}.layer_output_norm.weight`, [embd], 1),
      w(`${p}.layer_output_norm.bias`, [embd]),
    );
  }
  return { metadata: md, tensors };
}
