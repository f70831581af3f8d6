// The sentence-transformers folder of an encoder, as `SentenceTransformer.save()` lays it out:
//   config.json                  Hugging Face BertModel / XLMRobertaModel config
//   model.safetensors            weights under HF names (embeddings.*, encoder.layer.{i}.*), metadata format=pt
//   tokenizer files              tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json
//   modules.json                 Transformer → Pooling (→ Normalize)
//   sentence_bert_config.json    max_seq_length
//   config_sentence_transformers.json   prompts (query/passage instructions), cosine similarity
//   1_Pooling/config.json        mean or CLS;   2_Normalize/ (empty) when vectors are L2-normalised
// Leaves out the BERT pooler (pooler.dense), which embedding models do not use.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { TaskOptions } from "../../../core/progress.js";
import { ggufToHfName } from "../../../formats/hf/names.js";
import { writeSafetensors, type SafetensorsTensorInput } from "../../../formats/safetensors.js";
import type { EncoderPooling } from "../config.js";
import type { BertModel } from "../model.js";
import { writeTokenizerFiles, type EncoderVocab } from "./vocab.js";
import type { NamedWeight } from "./weights.js";

export interface StFolderOptions extends TaskOptions {
  pooling: EncoderPooling;
  normalize: boolean;
  dtype: "f32" | "f16";
  vocab: EncoderVocab;
  /** The source folder's config.json, kept where it does not describe the weights. */
  sourceConfig?: Record<string, unknown>;
  prompts?: { query?: string; passage?: string };
}

/** HF config.json for the model (BertModel, or XLMRobertaModel for XLM-RoBERTa). */
export function hfEncoderConfig(
  model: BertModel,
  typeRows: number,
  base: Record<string, unknown> = {},
  dtype: "f32" | "f16" = "f32",
) {
  const c = model.config;
  const xlmr = c.arch === "xlm-roberta";
  return {
    ...base,
    architectures: [xlmr ? "XLMRobertaModel" : "BertModel"],
    model_type: c.arch,
    hidden_size: c.dim,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    intermediate_size: c.ffnDim,
    hidden_act: c.gelu === "tanh" ? "gelu_new" : "gelu",
    max_position_embeddings: c.maxPositions,
    type_vocab_size: typeRows,
    vocab_size: c.vocabSize,
    layer_norm_eps: c.eps,
    position_embedding_type: "absolute",
    pad_token_id: xlmr ? c.positionOffset - 1 : (base["pad_token_id"] ?? 0),
    hidden_dropout_prob: base["hidden_dropout_prob"] ?? 0.1,
    attention_probs_dropout_prob: base["attention_probs_dropout_prob"] ?? 0.1,
    initializer_range: base["initializer_range"] ?? 0.02,
    torch_dtype: dtype === "f16" ? "float16" : "float32",
  };
}

/**
 * The weights under HF names, row-major as PyTorch holds them. A model without token types gets a
 * zero (1, C) table: HF's BertModel always adds one, and zeros add nothing.
 */
export function hfTensors(model: BertModel, weights: NamedWeight[]): NamedWeight[] {
  const out = weights.map((w) => ({ ...w, name: ggufToHfName("bert", w.name) ?? w.name }));
  if (!model.weights.tokenTypes) {
    out.splice(1, 0, {
      name: "embeddings.token_type_embeddings.weight",
      shape: [1, model.config.dim],
      data: new Float32Array(model.config.dim),
    });
  }
  return out;
}

/** Writes the folder; returns the files written (relative to `dir`). */
export async function writeStFolder(
  model: BertModel,
  weights: NamedWeight[],
  dir: string,
  o: StFolderOptions,
): Promise<string[]> {
  await mkdir(path.join(dir, "1_Pooling"), { recursive: true });
  const tensors = hfTensors(model, weights);
  const typeRows = model.weights.tokenTypes?.shape[0] ?? 1;
  const json = (f: string, v: unknown) => writeFile(path.join(dir, f), JSON.stringify(v, null, 2) + "\n");
  await json("config.json", hfEncoderConfig(model, typeRows, o.sourceConfig, o.dtype));
  const st: SafetensorsTensorInput[] = tensors.map((t) => ({
    name: t.name,
    shape: t.shape,
    // vectors (norms, biases) stay f32 in f16 exports, as sentence-transformers' half() would not
    dtype: o.dtype === "f16" && t.shape.length === 2 ? "F16" : "F32",
    data: t.data,
  }));
  await writeSafetensors(path.join(dir, "model.safetensors"), st, { format: "pt" }, o);
  const files = ["config.json", "model.safetensors"];
  files.push(...(await writeTokenizerFiles(o.vocab, dir, model.config.maxTokens)));
  const modules = [
    { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
    { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
  ];
  if (o.normalize) {
    modules.push({ idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" });
    await mkdir(path.join(dir, "2_Normalize"), { recursive: true });
  }
  await json("modules.json", modules);
  await json("sentence_bert_config.json", {
    max_seq_length: Math.min(model.config.maxTokens, 512),
    do_lower_case: false,
  });
  const prompts = Object.fromEntries(Object.entries(o.prompts ?? {}).filter(([, v]) => v));
  await json("config_sentence_transformers.json", {
    __version__: { sentence_transformers: "3.0.1" },
    prompts,
    default_prompt_name: null,
    similarity_fn_name: "cosine",
  });
  await writePoolingConfig(dir, model.config.dim, o.pooling);
  files.push(
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    ...(o.normalize ? ["2_Normalize/"] : []),
  );
  return files;
}

/** 1_Pooling/config.json as sentence-transformers writes it (transformers.js users read it too). */
export async function writePoolingConfig(dir: string, dim: number, pooling: EncoderPooling): Promise<void> {
  await mkdir(path.join(dir, "1_Pooling"), { recursive: true });
  const o = { pooling };
  const config = {
    word_embedding_dimension: dim,
    pooling_mode_cls_token: o.pooling === "cls",
    pooling_mode_mean_tokens: o.pooling === "mean",
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
    pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: false,
    include_prompt: true,
  };
  await writeFile(path.join(dir, "1_Pooling", "config.json"), JSON.stringify(config, null, 2) + "\n");
}

/** The source folder's config.json, if any (kept keys: pad_token_id, dropout, …). */
export async function sourceConfig(source: string): Promise<Record<string, unknown> | undefined> {
  const file = path.join(source, "config.json");
  if (source.toLowerCase().endsWith(".gguf") || !existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
}
