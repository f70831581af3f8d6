// Hugging Face ↔ GGUF tensor names, one table per architecture family, as llama.cpp's
// tensor_mapping.py names them. Leaves out multimodal and MoE tensors.

/** A block-level rule: `{i}` is the layer index. */
interface NameRule {
  hf: string;
  gguf: string;
}

const LLAMA_RULES: NameRule[] = [
  { hf: "model.embed_tokens.weight", gguf: "token_embd.weight" },
  { hf: "model.norm.weight", gguf: "output_norm.weight" },
  { hf: "lm_head.weight", gguf: "output.weight" },
  { hf: "model.layers.{i}.input_layernorm.weight", gguf: "blk.{i}.attn_norm.weight" },
  { hf: "model.layers.{i}.self_attn.q_proj.weight", gguf: "blk.{i}.attn_q.weight" },
  { hf: "model.layers.{i}.self_attn.k_proj.weight", gguf: "blk.{i}.attn_k.weight" },
  { hf: "model.layers.{i}.self_attn.v_proj.weight", gguf: "blk.{i}.attn_v.weight" },
  { hf: "model.layers.{i}.self_attn.q_proj.bias", gguf: "blk.{i}.attn_q.bias" },
  { hf: "model.layers.{i}.self_attn.k_proj.bias", gguf: "blk.{i}.attn_k.bias" },
  { hf: "model.layers.{i}.self_attn.v_proj.bias", gguf: "blk.{i}.attn_v.bias" },
  { hf: "model.layers.{i}.self_attn.o_proj.weight", gguf: "blk.{i}.attn_output.weight" },
  { hf: "model.layers.{i}.post_attention_layernorm.weight", gguf: "blk.{i}.ffn_norm.weight" },
  { hf: "model.layers.{i}.mlp.gate_proj.weight", gguf: "blk.{i}.ffn_gate.weight" },
  { hf: "model.layers.{i}.mlp.up_proj.weight", gguf: "blk.{i}.ffn_up.weight" },
  { hf: "model.layers.{i}.mlp.down_proj.weight", gguf: "blk.{i}.ffn_down.weight" },
];

const BERT_RULES: NameRule[] = [
  { hf: "embeddings.word_embeddings.weight", gguf: "token_embd.weight" },
  { hf: "embeddings.position_embeddings.weight", gguf: "position_embd.weight" },
  { hf: "embeddings.token_type_embeddings.weight", gguf: "token_types.weight" },
  { hf: "embeddings.LayerNorm.weight", gguf: "token_embd_norm.weight" },
  { hf: "embeddings.LayerNorm.bias", gguf: "token_embd_norm.bias" },
  ...["weight", "bias"].flatMap((p) => [
    { hf: `encoder.layer.{i}.attention.self.query.${p}`, gguf: `blk.{i}.attn_q.${p}` },
    { hf: `encoder.layer.{i}.attention.self.key.${p}`, gguf: `blk.{i}.attn_k.${p}` },
    { hf: `encoder.layer.{i}.attention.self.value.${p}`, gguf: `blk.{i}.attn_v.${p}` },
    { hf: `encoder.layer.{i}.attention.output.dense.${p}`, gguf: `blk.{i}.attn_output.${p}` },
    { hf: `encoder.layer.{i}.attention.output.LayerNorm.${p}`, gguf: `blk.{i}.attn_output_norm.${p}` },
    { hf: `encoder.layer.{i}.intermediate.dense.${p}`, gguf: `blk.{i}.ffn_up.${p}` },
    { hf: `encoder.layer.{i}.output.dense.${p}`, gguf: `blk.{i}.ffn_down.${p}` },
    { hf: `encoder.layer.{i}.output.LayerNorm.${p}`, gguf: `blk.{i}.layer_output_norm.${p}` },
  ]),
];

/** HF tensors that GGUF does not keep (rotary caches, BERT pooler). */
const DROPPED = [/\.rotary_emb\.inv_freq$/, /^(bert\.)?pooler\./, /^(bert\.)?embeddings\.position_ids$/];

export type ArchFamily = "llama" | "bert";

/** GGUF architecture and name family for a config.json `model_type`. */
export const MODEL_TYPES: Record<string, { arch: string; family: ArchFamily; permuteQK: boolean }> = {
  llama: { arch: "llama", family: "llama", permuteQK: true },
  mistral: { arch: "llama", family: "llama", permuteQK: true },
  smollm: { arch: "llama", family: "llama", permuteQK: true },
  qwen2: { arch: "qwen2", family: "llama", permuteQK: false },
  bert: { arch: "bert", family: "bert", permuteQK: false },
};

function compile(rules: NameRule[], from: "hf" | "gguf") {
  return rules.map((r) => {
    const src = r[from].replace(/[.]/g, "\\.").replace("{i}", "(\\d+)");
    return { re: new RegExp(`^${src}$`), to: from === "hf" ? r.gguf : r.hf };
  });
}

const TABLES = {
  llama: { toGguf: compile(LLAMA_RULES, "hf"), toHf: compile(LLAMA_RULES, "gguf") },
  bert: { toGguf: compile(BERT_RULES, "hf"), toHf: compile(BERT_RULES, "gguf") },
};

function apply(rules: { re: RegExp; to: string }[], name: string): string | undefined {
  for (const r of rules) {
    const m = r.re.exec(name);
    if (m) return r.to.replace("{i}", m[1] ?? "");
  }
  return undefined;
}

/** GGUF name of a HF tensor; null for tensors GGUF drops; undefined when unknown. */
export function hfToGgufName(family: ArchFamily, hfName: string): string | null | undefined {
  if (DROPPED.some((re) => re.test(hfName))) return null;
  const name = family === "bert" ? hfName.replace(/^bert\./, "") : hfName;
  return apply(TABLES[family].toGguf, name);
}

/** HF name of a GGUF tensor, or undefined when unknown. */
export function ggufToHfName(family: ArchFamily, ggufName: string): string | undefined {
  return apply(TABLES[family].toHf, ggufName);
}
