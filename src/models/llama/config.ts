// Hyperparameters of a Llama-family decoder (llama, mistral, qwen2) read from GGUF metadata or a
// Hugging Face config.json, with RoPE frequencies (linear and llama3 scaling). Leaves out YaRN/LongRoPE.
import { InfuseError } from "../../core/errors.js";
import type { GgufValue } from "../../formats/gguf/types.js";
import { ropeInvFreq, type RopeLayout } from "../../tensor/index.js";

/** GGUF `general.architecture` values (and HF `model_type`s) this decoder runs. */
export const SUPPORTED_ARCHITECTURES = ["llama", "mistral", "qwen2", "smollm"] as const;

export interface LlamaConfig {
  /** GGUF architecture name (llama, qwen2). */
  arch: string;
  vocabSize: number;
  /** C: hidden size. */
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** D: per-head size. */
  headDim: number;
  ffnDim: number;
  rmsEps: number;
  contextLength: number;
  /** Pairs (2i, 2i+1) for GGUF llama (Q/K permuted), halves for HF folders and NeoX-rope archs (qwen2). */
  ropeLayout: RopeLayout;
  ropeBase: number;
  /** Linear position scaling: positions are multiplied by this (1/factor). */
  ropeFreqScale: number;
  /** llama3-style per-frequency divisors (GGUF rope_freqs.weight or computed from config.json). */
  ropeFreqFactors?: Float32Array;
}

/** Inverse RoPE frequencies after scaling: base^(−2i/D) · freqScale / factor_i. */
export function ropeFrequencies(c: LlamaConfig): Float32Array {
  const inv = ropeInvFreq(c.headDim, c.ropeBase);
  for (let i = 0; i < inv.length; i++) inv[i] = (inv[i]! * c.ropeFreqScale) / (c.ropeFreqFactors?.[i] ?? 1);
  return inv;
}

export function unsupportedArchitecture(arch: string, source: string): InfuseError {
  return new InfuseError(
    "model.unsupported_architecture",
    `${source}: architecture "${arch}" is not supported by the llama decoder`,
    {
      kind: "input",
      hint: `supported architectures: ${SUPPORTED_ARCHITECTURES.join(", ")}`,
      details: { architecture: arch, supported: [...SUPPORTED_ARCHITECTURES] },
    },
  );
}

function missing(source: string, key: string): InfuseError {
  return new InfuseError("model.missing_hparam", `${source}: no ${key} in the model metadata`, {
    kind: "input",
    hint: "the file is incomplete; convert it again",
    details: { key },
  });
}

function rejectScaling(source: string, type: string): InfuseError {
  return new InfuseError("model.unsupported_rope_scaling", `${source}: RoPE scaling "${type}" is not supported`, {
    kind: "input",
    hint: "supported: none, linear, llama3",
  });
}

/** From GGUF metadata; `freqFactors` is the rope_freqs.weight tensor when the file has one. */
export function configFromGguf(
  get: (key: string) => GgufValue | undefined,
  source: string,
  freqFactors?: Float32Array,
): LlamaConfig {
  const arch = String(get("general.architecture") ?? "");
  if (arch !== "llama" && arch !== "qwen2") throw unsupportedArchitecture(arch || "(none)", source);
  const num = (key: string, fallback?: number): number => {
    const v = get(`${arch}.${key}`);
    if (typeof v === "number" || typeof v === "bigint") return Number(v);
    if (fallback !== undefined) return fallback;
    throw missing(source, `${arch}.${key}`);
  };
  const dim = num("embedding_length");
  const heads = num("attention.head_count");
  const tokens = get("tokenizer.ggml.tokens");
  const scalingType = String(get(`${arch}.rope.scaling.type`) ?? "none");
  if (scalingType !== "none" && scalingType !== "linear") throw rejectScaling(source, scalingType);
  const factor = scalingType === "linear" ? num("rope.scaling.factor", 1) : 1;
  const config: LlamaConfig = {
    arch,
    vocabSize: num("vocab_size", Array.isArray(tokens) ? tokens.length : undefined),
    dim,
    layers: num("block_count"),
    heads,
    kvHeads: num("attention.head_count_kv", heads),
    headDim: num("attention.key_length", dim / heads),
    ffnDim: num("feed_forward_length"),
    rmsEps: num("attention.layer_norm_rms_epsilon", 1e-5),
    contextLength: num("context_length", 2048),
    ropeLayout: arch === "qwen2" ? "half" : "interleaved",
    ropeBase: num("rope.freq_base", 10000),
    ropeFreqScale: factor > 0 ? 1 / factor : 1,
  };
  if (freqFactors) config.ropeFreqFactors = freqFactors;
  return config;
}

type Json = Record<string, unknown>;

/** llama3 rope_scaling: low frequencies divided by `factor`, high kept, the band between blended. */
function llama3Factors(s: Json, headDim: number, base: number): Float32Array {
  const factor = Number(s["factor"] ?? 8);
  const low = Number(s["low_freq_factor"] ?? 1);
  const high = Number(s["high_freq_factor"] ?? 4);
  const original = Number(s["original_max_position_embeddings"] ?? 8192);
  const inv = ropeInvFreq(headDim, base);
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < original / high) return 1;
    if (wavelen > original / low) return factor;
    const smooth = (original / wavelen - low) / (high - low);
    return 1 / ((1 - smooth) / factor + smooth);
  });
}

/** From a HF config.json; HF checkpoints keep Q/K unpermuted, so RoPE rotates halves. */
export function configFromHf(cfg: Json, source: string): LlamaConfig {
  const modelType = String(cfg["model_type"] ?? "");
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(modelType)) {
    throw unsupportedArchitecture(modelType || "(none)", source);
  }
  const num = (key: string, fallback?: number): number => {
    const v = cfg[key];
    if (typeof v === "number") return v;
    if (fallback !== undefined) return fallback;
    throw missing(source, key);
  };
  const dim = num("hidden_size");
  const heads = num("num_attention_heads");
  const headDim = num("head_dim", dim / heads);
  const ropeBase = num("rope_theta", 10000);
  const scaling = (cfg["rope_scaling"] ?? null) as Json | null;
  const type = scaling ? String(scaling["rope_type"] ?? scaling["type"] ?? "default") : "default";
  if (!["default", "linear", "llama3"].includes(type)) throw rejectScaling(source, type);
  const config: LlamaConfig = {
    arch: modelType === "qwen2" ? "qwen2" : "llama",
    vocabSize: num("vocab_size"),
    dim,
    layers: num("num_hidden_layers"),
    heads,
    kvHeads: num("num_key_value_heads", heads),
    headDim,
    ffnDim: num("intermediate_size"),
    rmsEps: num("rms_norm_eps", 1e-6),
    contextLength: num("max_position_embeddings", 2048),
    ropeLayout: "half",
    ropeBase,
    ropeFreqScale: type === "linear" ? 1 / Number(scaling?.["factor"] ?? 1) : 1,
  };
  if (type === "llama3" && scaling) config.ropeFreqFactors = llama3Factors(scaling, headDim, ropeBase);
  return config;
}
