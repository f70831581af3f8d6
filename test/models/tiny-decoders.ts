// Tiny Hugging Face decoder folders with seeded random weights in mistral and qwen2 shapes (GQA,
// q/k/v biases, tied embeddings, RoPE θ and scaling), beside the TinyStories tokenizer, for the
// llama.cpp oracle after conversion by our GGUF writer. Leaves out training.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { writeSafetensors, type SafetensorsTensorInput } from "../../src/formats/safetensors.js";
import { seededFloats } from "../formats/tiny-models.js";
import { fixture } from "../helpers/fixtures.js";

export interface TinyHfOptions {
  modelType: "mistral" | "qwen2" | "llama";
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  bias?: boolean;
  tied?: boolean;
  ropeTheta?: number;
  /** config.json's rope_scaling object as Hugging Face writes it. */
  ropeScaling?: Record<string, unknown>;
  seed?: number;
}

const TOKENIZER = "models/tinystories-656k-hf";
const VOCAB = 2048;

/** Writes config.json, model.safetensors and the TinyStories tokenizer files into `dir`. */
export async function writeTinyHfModel(dir: string, o: TinyHfOptions): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const hidden = o.hidden ?? 64;
  const heads = o.heads ?? 8;
  const kvHeads = o.kvHeads ?? 2;
  const ffn = o.ffn ?? 96;
  const layers = o.layers ?? 2;
  const hd = hidden / heads;
  let seed = o.seed ?? 7;
  const tensors: SafetensorsTensorInput[] = [];
  const add = (name: string, shape: number[], center = 0): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    const scale = shape.length === 1 ? 0.1 : 1 / Math.sqrt(shape[1]!);
    const data = seededFloats(n, seed++, scale).map((v) => center + v);
    tensors.push({ name, shape, dtype: "F32", data });
  };
  add("model.embed_tokens.weight", [VOCAB, hidden]);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [hidden], 1);
    add(`${p}.self_attn.q_proj.weight`, [heads * hd, hidden]);
    add(`${p}.self_attn.k_proj.weight`, [kvHeads * hd, hidden]);
    add(`${p}.self_attn.v_proj.weight`, [kvHeads * hd, hidden]);
    if (o.bias) {
      add(`${p}.self_attn.q_proj.bias`, [heads * hd]);
      add(`${p}.self_attn.k_proj.bias`, [kvHeads * hd]);
      add(`${p}.self_attn.v_proj.bias`, [kvHeads * hd]);
    }
    add(`${p}.self_attn.o_proj.weight`, [hidden, heads * hd]);
    add(`${p}.post_attention_layernorm.weight`, [hidden], 1);
    add(`${p}.mlp.gate_proj.weight`, [ffn, hidden]);
    add(`${p}.mlp.up_proj.weight`, [ffn, hidden]);
    add(`${p}.mlp.down_proj.weight`, [hidden, ffn]);
  }
  add("model.norm.weight", [hidden], 1);
  if (!o.tied) add("lm_head.weight", [VOCAB, hidden]);
  await writeSafetensors(path.join(dir, "model.safetensors"), tensors);
  const config = {
    architectures: [
      { qwen2: "Qwen2ForCausalLM", mistral: "MistralForCausalLM", llama: "LlamaForCausalLM" }[o.modelType],
    ],
    model_type: o.modelType,
    hidden_size: hidden,
    intermediate_size: ffn,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-6,
    rope_theta: o.ropeTheta ?? 10000,
    rope_scaling: o.ropeScaling ?? null,
    tie_word_embeddings: o.tied ?? false,
    vocab_size: VOCAB,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) {
    copyFileSync(fixture(`${TOKENIZER}/${f}`), path.join(dir, f));
  }
  return dir;
}

/**
 * A tiny llama (width 256, so every GGML block type divides its rows) converted to an F32 GGUF in
 * `dir`: the base the quantized-weight tests rewrite into other storage types.
 */
export async function writeTinyLlamaF32Gguf(dir: string): Promise<string> {
  const hf = await writeTinyHfModel(path.join(dir, "hf"), {
    modelType: "llama",
    hidden: 256,
    heads: 4,
    kvHeads: 2,
    ffn: 512,
  });
  return (await convertHfToGguf(hf, path.join(dir, "f32.gguf"), { outType: "F32" })).path;
}
