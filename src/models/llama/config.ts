// Hyperparameters of a Llama-family decoder (llama, mistral, qwen2) read from GGUF metadata or a
// Hugging Face config.json, with RoPE frequencies (linear, llama3 and YaRN scaling). Leaves out
// dynamic NTK and LongRoPE.
import { readFile } from "node:fs/promises";
import { InfuseError } from "../../core/errors.js";
import type { GgufValue } from "../../formats/gguf/types.js";
import {
  llama3FreqFactors,
  ropeScalingFromGguf,
  ropeScalingFromHf,
  yarnMagnitude,
  type RopeScaling,
} from "../../formats/hf/rope-scaling.js";
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
  /** How positions are stretched beyond the trained context (from the metadata). */
  ropeScaling: RopeScaling;
  /** Per-frequency divisors from GGUF's rope_freqs.weight or a llama3 rope_scaling. */
  ropeFreqFactors?: Float32Array;
}

/**
 * Inverse RoPE frequencies after scaling, as llama.cpp computes its angles: base^(−2i/D) / factor_i,
 * then linear scaling multiplies by 1/factor, and YaRN blends that with the unscaled frequency per
 * dimension (kept above βfast rotations in the original context, interpolated below βslow).
 */
export function ropeFrequencies(c: LlamaConfig): Float32Array {
  const inv = ropeInvFreq(c.headDim, c.ropeBase);
  for (let i = 0; i < inv.length; i++) inv[i] = inv[i]! / (c.ropeFreqFactors?.[i] ?? 1);
  const s = c.ropeScaling;
  if (s.type === "linear") for (let i = 0; i < inv.length; i++) inv[i] = inv[i]! / s.factor;
  if (s.type === "yarn") {
    // Dimension whose wavelength turns `beta` times in the original context (llama.cpp's corr dims).
    const dimFor = (beta: number): number =>
      (c.headDim * Math.log(s.originalContextLength / (beta * 2 * Math.PI))) / (2 * Math.log(c.ropeBase));
    const low = Math.max(0, Math.floor(dimFor(s.betaFast)));
    const high = Math.min(c.headDim - 1, Math.ceil(dimFor(s.betaSlow)));
    for (let i = 0; i < inv.length; i++) {
      const keep = 1 - Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)));
      inv[i] = inv[i]! * ((1 - keep) / s.factor + keep);
    }
  }
  return inv;
}

/**
 * Attention score scale: 1/√D, times YaRN's magnitude scale squared (YaRN scales the rotated q and
 * k each by 0.1·ln(factor) + 1).
 */
export function attentionScale(c: LlamaConfig): number {
  const s = c.ropeScaling;
  const magnitude = s.type === "yarn" ? yarnMagnitude(s.factor) * s.attnFactor : 1;
  return (magnitude * magnitude) / Math.sqrt(c.headDim);
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

function badHparam(source: string, key: string, value: unknown, want: string): InfuseError {
  return new InfuseError("model.bad_hparam", `${source}: ${key} is ${String(value)}, expected ${want}`, {
    kind: "input",
    hint: "the model's metadata is damaged; convert or download it again",
    details: { key, value: String(value) },
  });
}

/**
 * Sizes positive integers, the norm epsilon and RoPE base positive finite numbers: a NaN epsilon or
 * theta would run and print garbage, a zero or fractional size would fail far from its cause.
 */
function checked(c: LlamaConfig, source: string, keys: Record<"eps" | "theta", string>): LlamaConfig {
  const sizes = ["vocabSize", "dim", "layers", "heads", "kvHeads", "headDim", "ffnDim", "contextLength"] as const;
  for (const k of sizes) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) throw badHparam(source, k, c[k], "a positive integer");
  }
  if (!Number.isFinite(c.rmsEps) || c.rmsEps <= 0) throw badHparam(source, keys.eps, c.rmsEps, "a positive number");
  if (!Number.isFinite(c.ropeBase) || c.ropeBase <= 0)
    throw badHparam(source, keys.theta, c.ropeBase, "a positive number");
  return c;
}

/** A Hugging Face config.json as an object; a file that is not one is `model.bad_config` naming it. */
export async function readHfConfig(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw new InfuseError("model.bad_config", `${file}: cannot read (${(e as Error).message})`, {
      kind: missing ? "not_found" : "io",
      cause: e,
      details: { file },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InfuseError("model.bad_config", `${file}: not valid JSON (${(e as Error).message})`, {
      kind: "input",
      hint: "the model folder's config.json is damaged; download or save the model again",
      cause: e,
      details: { file },
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InfuseError("model.bad_config", `${file}: not a JSON object`, {
      kind: "input",
      hint: "the model folder's config.json is damaged; download or save the model again",
      details: { file },
    });
  }
  return value as Record<string, unknown>;
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
    ropeScaling: ropeScalingFromGguf(get, arch, source),
  };
  if (freqFactors) config.ropeFreqFactors = freqFactors;
  const eps = `${arch}.attention.layer_norm_rms_epsilon`;
  return checked(config, source, { eps, theta: `${arch}.rope.freq_base` });
}

type Json = Record<string, unknown>;

/** From a HF config.json; HF checkpoints keep Q/K unpermuted, so RoPE rotates halves. */
export function configFromHf(cfg: Json, source: string): LlamaConfig {
  const modelType = String(cfg["model_type"] ?? "");
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(modelType)) {
    throw unsupportedArchitecture(modelType || "(none)", source);
  }
  const num = (key: string, fallback?: number): number => {
    const v = cfg[key];
    if (typeof v === "number") return v;
    if (v !== undefined && v !== null) throw badHparam(source, key, JSON.stringify(v), "a number");
    if (fallback !== undefined) return fallback;
    throw missing(source, key);
  };
  const dim = num("hidden_size");
  const heads = num("num_attention_heads");
  const headDim = num("head_dim", dim / heads);
  const ropeBase = num("rope_theta", 10000);
  const scaling = ropeScalingFromHf(cfg, source);
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
    ropeScaling: scaling.type === "llama3" ? { type: "none" } : scaling,
  };
  checked(config, source, { eps: "rms_norm_eps", theta: "rope_theta" });
  if (scaling.type === "llama3") config.ropeFreqFactors = llama3FreqFactors(scaling, headDim, ropeBase);
  return config;
}
