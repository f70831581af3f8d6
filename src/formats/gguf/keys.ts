// Names of the GGUF metadata keys infuse reads and writes, namespaced as gguf-py's constants.py
// names them. `{arch}` keys are built with `archKey`. Leaves out keys we never touch.

export const GGUF_KEYS = {
  architecture: "general.architecture",
  name: "general.name",
  type: "general.type",
  alignment: "general.alignment",
  fileType: "general.file_type",
  quantizationVersion: "general.quantization_version",
  tokenizerModel: "tokenizer.ggml.model",
  tokenizerPre: "tokenizer.ggml.pre",
  tokens: "tokenizer.ggml.tokens",
  scores: "tokenizer.ggml.scores",
  tokenType: "tokenizer.ggml.token_type",
  merges: "tokenizer.ggml.merges",
  bosId: "tokenizer.ggml.bos_token_id",
  eosId: "tokenizer.ggml.eos_token_id",
  unkId: "tokenizer.ggml.unknown_token_id",
  sepId: "tokenizer.ggml.seperator_token_id",
  padId: "tokenizer.ggml.padding_token_id",
  clsId: "tokenizer.ggml.cls_token_id",
  maskId: "tokenizer.ggml.mask_token_id",
  addBos: "tokenizer.ggml.add_bos_token",
  addEos: "tokenizer.ggml.add_eos_token",
  addSpacePrefix: "tokenizer.ggml.add_space_prefix",
  chatTemplate: "tokenizer.chat_template",
  /** BERT's segment (token type) vocabulary size; llama.cpp refuses a BERT GGUF without it. */
  tokenTypeCount: "tokenizer.ggml.token_type_count",
  adapterType: "adapter.type",
  loraAlpha: "adapter.lora.alpha",
} as const;

/** Per-architecture key suffixes: `{arch}.context_length` etc. */
export const ARCH_KEYS = {
  contextLength: "context_length",
  embeddingLength: "embedding_length",
  blockCount: "block_count",
  feedForwardLength: "feed_forward_length",
  headCount: "attention.head_count",
  headCountKv: "attention.head_count_kv",
  rmsEps: "attention.layer_norm_rms_epsilon",
  layerNormEps: "attention.layer_norm_epsilon",
  causal: "attention.causal",
  ropeDims: "rope.dimension_count",
  ropeFreqBase: "rope.freq_base",
  ropeScalingType: "rope.scaling.type",
  ropeScalingFactor: "rope.scaling.factor",
  ropeScalingOrigContext: "rope.scaling.original_context_length",
  ropeScalingAttnFactor: "rope.scaling.attn_factor",
  ropeYarnBetaFast: "rope.scaling.yarn_beta_fast",
  ropeYarnBetaSlow: "rope.scaling.yarn_beta_slow",
  vocabSize: "vocab_size",
  poolingType: "pooling_type",
} as const;

export function archKey(arch: string, key: (typeof ARCH_KEYS)[keyof typeof ARCH_KEYS]): string {
  return `${arch}.${key}`;
}

/** llama.cpp token types (tokenizer.ggml.token_type). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
