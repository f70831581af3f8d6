// BERT-family encoder hyperparameters from GGUF metadata (llama.cpp's `bert.*` keys) or a Hugging
// Face config.json, and the pooling a model declares (GGUF pooling_type, sentence-transformers'
// modules.json → 1_Pooling/config.json). BERT and XLM-RoBERTa are supported; other encoder
// architectures fail with model.unsupported_arch naming them.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import type { GeluApproximation } from "../../tensor/index.js";

export type EncoderPooling = "mean" | "cls";
export type EncoderArch = "bert" | "xlm-roberta";

export interface BertConfig {
  arch: EncoderArch;
  dim: number;
  layers: number;
  heads: number;
  ffnDim: number;
  vocabSize: number;
  /** Rows of the position-embedding table. */
  maxPositions: number;
  /** Rows of the token-type table (0: none). */
  typeVocabSize: number;
  eps: number;
  gelu: GeluApproximation;
  /** Added to each token's index to find its position row (XLM-RoBERTa in HF layout: padding_idx + 1). */
  positionOffset: number;
  /** Longest input in tokens, specials included. */
  maxTokens: number;
  /** The pooling the model declares; undefined when it declares none. */
  pooling: EncoderPooling | undefined;
}

function unsupported(arch: string, where: string): InfuseError {
  return new InfuseError("model.unsupported_arch", `${where}: encoder architecture "${arch}" is not supported`, {
    kind: "input",
    hint: "the engine's encoder runs BERT (MiniLM, bge, gte, e5, mxbai) and XLM-RoBERTa; use the ONNX (transformers.js) or GGUF (llama.cpp) embedder for others",
    details: { arch },
  });
}

function bad(where: string, what: string): InfuseError {
  return new InfuseError("model.bad_config", `${where}: ${what}`, {
    kind: "input",
    hint: "the file is not a complete BERT-family encoder",
  });
}

/** From GGUF metadata: `get(key)` returns the plain value. `typeRows` is token_types.weight's row count. */
export function bertConfigFromGguf(get: (key: string) => unknown, file: string, typeRows: number): BertConfig {
  const arch = String(get("general.architecture") ?? "");
  if (arch !== "bert") throw unsupported(arch, file);
  const num = (key: string, fallback?: number): number => {
    const v = get(`${arch}.${key}`);
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    if (fallback !== undefined) return fallback;
    throw bad(file, `no ${arch}.${key}`);
  };
  const dim = num("embedding_length");
  const heads = num("attention.head_count");
  const context = num("context_length");
  const tokens = get("tokenizer.ggml.tokens");
  const pooling = get(`${arch}.pooling_type`) === undefined ? undefined : num("pooling_type");
  if (pooling !== undefined && pooling !== 1 && pooling !== 2) {
    throw new InfuseError("model.unsupported_pooling", `${file}: pooling type ${pooling} is not mean (1) or CLS (2)`, {
      kind: "input",
      hint: "the engine's encoder pools by mean or CLS; use the GGUF (llama.cpp) embedder for other pooling types",
    });
  }
  return {
    arch: get("tokenizer.ggml.model") === "t5" ? "xlm-roberta" : "bert",
    dim,
    layers: num("block_count"),
    heads,
    ffnDim: num("feed_forward_length"),
    vocabSize: Array.isArray(tokens) ? tokens.length : num("vocab_size"),
    maxPositions: context,
    typeVocabSize: typeRows,
    eps: num("attention.layer_norm_epsilon", 1e-12),
    gelu: "erf",
    positionOffset: 0, // llama.cpp's converter drops XLM-RoBERTa's first padding_idx + 1 rows
    maxTokens: context,
    pooling: pooling === undefined ? undefined : pooling === 2 ? "cls" : "mean",
  };
}

/** From config.json (parsed) in `dir`. */
export function bertConfigFromHf(cfg: Record<string, unknown>, file: string): BertConfig {
  const type = String(cfg["model_type"] ?? "");
  if (type !== "bert" && type !== "xlm-roberta") throw unsupported(type || "(no model_type)", file);
  const pet = cfg["position_embedding_type"];
  if (pet !== undefined && pet !== "absolute") throw unsupported(`${type} with ${String(pet)} positions`, file);
  const num = (key: string, fallback?: number): number => {
    const v = cfg[key];
    if (typeof v === "number") return v;
    if (fallback !== undefined) return fallback;
    throw bad(file, `config.json has no numeric ${key}`);
  };
  const act = String(cfg["hidden_act"] ?? "gelu");
  const gelu: GeluApproximation | undefined =
    act === "gelu" ? "erf" : act === "gelu_new" || act === "gelu_pytorch_tanh" ? "tanh" : undefined;
  if (!gelu) throw unsupported(`${type} with hidden_act ${act}`, file);
  const maxPositions = num("max_position_embeddings");
  const offset = type === "xlm-roberta" ? num("pad_token_id", 1) + 1 : 0;
  return {
    arch: type,
    dim: num("hidden_size"),
    layers: num("num_hidden_layers"),
    heads: num("num_attention_heads"),
    ffnDim: num("intermediate_size"),
    vocabSize: num("vocab_size"),
    maxPositions,
    typeVocabSize: num("type_vocab_size", 2),
    eps: num("layer_norm_eps", 1e-12),
    gelu,
    positionOffset: offset,
    maxTokens: maxPositions - offset,
    pooling: undefined,
  };
}

/** The pooling a sentence-transformers folder declares (modules.json's Pooling module, else 1_Pooling/). */
export async function stPooling(dir: string): Promise<EncoderPooling | undefined> {
  let poolDir = path.join(dir, "1_Pooling");
  const modulesFile = path.join(dir, "modules.json");
  if (existsSync(modulesFile)) {
    const modules = JSON.parse(await readFile(modulesFile, "utf8")) as { type?: string; path?: string }[];
    const pool = modules.find((m) => m.type?.endsWith(".Pooling"));
    if (pool?.path !== undefined) poolDir = path.join(dir, pool.path);
  }
  const file = path.join(poolDir, "config.json");
  if (!existsSync(file)) return undefined;
  const cfg = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  if (cfg["pooling_mode_cls_token"] === true) return "cls";
  if (cfg["pooling_mode_mean_tokens"] === true) return "mean";
  const mode = Object.keys(cfg).find((k) => k.startsWith("pooling_mode_") && cfg[k] === true);
  throw new InfuseError("model.unsupported_pooling", `${file}: pooling ${mode ?? "(none)"} is not mean or CLS`, {
    kind: "input",
    hint: "the engine's encoder pools by mean or CLS; set pooling_mode_mean_tokens or pooling_mode_cls_token",
  });
}
