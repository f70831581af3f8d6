// The encoder as a GGUF llama.cpp embeds with: architecture `bert`, the `bert.*` hyperparameters and
// tokenizer.ggml.* WordPiece keys its bert loader reads (token types included), pooling_type from the
// model, 2-D weights F32 or F16 (position and token-type tables stay F32: llama.cpp adds them). Leaves
// out XLM-RoBERTa (llama.cpp wants its SentencePiece vocabulary as "t5" and trimmed position rows).
import { InfuseError } from "../../../core/errors.js";
import type { TaskOptions } from "../../../core/progress.js";
import { archKey, GGUF_KEYS, GgmlType, kv, writeGguf, type GgufKV } from "../../../formats/gguf/index.js";
import type { EncoderPooling } from "../config.js";
import type { BertModel } from "../model.js";
import type { EncoderVocab } from "./vocab.js";
import type { NamedWeight } from "./weights.js";

export interface EncoderGgufOptions extends TaskOptions {
  pooling: EncoderPooling;
  dtype: "f32" | "f16";
  vocab: EncoderVocab;
  name: string;
}

/** llama.cpp's pooling_type values. */
const POOLING_TYPE: Record<EncoderPooling, number> = { mean: 1, cls: 2 };
const ADDED_NOT_MULTIPLIED = /^(position_embd|token_types)\./;

export async function writeEncoderGguf(
  model: BertModel,
  weights: NamedWeight[],
  file: string,
  o: EncoderGgufOptions,
): Promise<void> {
  const c = model.config;
  if (c.arch !== "bert" || !o.vocab.gguf) {
    throw new InfuseError(
      "export.gguf_unsupported",
      `a ${c.arch} encoder with this tokenizer cannot be written as GGUF`,
      {
        kind: "input",
        hint: "GGUF export covers BERT-family encoders with a WordPiece vocabulary (MiniLM, bge, gte, e5); use the sentence-transformers or ONNX output",
      },
    );
  }
  const k = (key: Parameters<typeof archKey>[1]) => archKey("bert", key);
  const metadata = new Map<string, GgufKV>([
    [GGUF_KEYS.architecture, kv.str("bert")],
    [GGUF_KEYS.name, kv.str(o.name)],
    [GGUF_KEYS.fileType, kv.u32(o.dtype === "f16" ? 1 : 0)],
    [k("context_length"), kv.u32(c.maxPositions)],
    [k("embedding_length"), kv.u32(c.dim)],
    [k("feed_forward_length"), kv.u32(c.ffnDim)],
    [k("block_count"), kv.u32(c.layers)],
    [k("attention.head_count"), kv.u32(c.heads)],
    [k("attention.layer_norm_epsilon"), kv.f32(c.eps)],
    [k("attention.causal"), kv.bool(false)],
    [k("pooling_type"), kv.u32(POOLING_TYPE[o.pooling])],
    [k("vocab_size"), kv.u32(c.vocabSize)],
    ...o.vocab.gguf,
    [GGUF_KEYS.tokenTypeCount, kv.u32(Math.max(c.typeVocabSize, 1))],
  ]);
  // llama.cpp's bert graph adds a token-type row; a model without types gets a zero one
  const all = model.weights.tokenTypes
    ? weights
    : [
        weights[0]!,
        { name: "token_types.weight", shape: [1, c.dim], data: new Float32Array(c.dim) },
        ...weights.slice(1),
      ];
  const tensors = all.map((w) => {
    const matrix = w.shape.length === 2 && !ADDED_NOT_MULTIPLIED.test(w.name);
    const type = o.dtype === "f16" && matrix ? GgmlType.F16 : GgmlType.F32;
    return { name: w.name, dims: [...w.shape].reverse(), type, data: w.data };
  });
  await writeGguf(file, { metadata, tensors }, o);
}
