// Writes a tiny BERT-shaped sentence encoder that transformers.js loads like a real export:
// the real all-MiniLM-L6-v2 tokenizer files, a config.json and onnx/model.onnx with seeded random
// weights (word + token-type embeddings, one context-mixing layer). It is not trained: similar
// texts land close only because they share tokens.
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodeOnnxModel, type OnnxNode } from "../../src/tensor/kernels/onnx-model.js";
import { fixture } from "./fixtures.js";

const TOKENIZER_DIR = "models/all-MiniLM-L6-v2-tokenizer";
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"];
const VOCAB = 30522;

export interface TinyEncoderOptions {
  /** Hidden size (the embedding dimension); default 32. */
  hidden?: number;
  seed?: number;
  /** Also write a sentence-transformers `1_Pooling/config.json` with this mode. */
  stPooling?: "mean" | "cls";
}

/** Writes the model folder `dir` (created if missing) and returns it. */
export async function writeTinyEncoder(dir: string, options: TinyEncoderOptions = {}): Promise<string> {
  const hidden = options.hidden ?? 32;
  await mkdir(path.join(dir, "onnx"), { recursive: true });
  for (const f of TOKENIZER_FILES) await copyFile(fixture(`${TOKENIZER_DIR}/${f}`), path.join(dir, f));
  const config = {
    architectures: ["BertModel"],
    model_type: "bert",
    hidden_size: hidden,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    intermediate_size: hidden,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    vocab_size: VOCAB,
    pad_token_id: 0,
  };
  await writeFile(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  await writeFile(path.join(dir, "onnx", "model.onnx"), tinyEncoderOnnx(hidden, options.seed ?? 7));
  if (options.stPooling) {
    await mkdir(path.join(dir, "1_Pooling"), { recursive: true });
    const pooling = {
      word_embedding_dimension: hidden,
      pooling_mode_cls_token: options.stPooling === "cls",
      pooling_mode_mean_tokens: options.stPooling === "mean",
    };
    await writeFile(path.join(dir, "1_Pooling", "config.json"), JSON.stringify(pooling));
  }
  return dir;
}

/**
 * The graph, per token t of a sequence with mask m:  x_t = word[id_t] + type[tt_t]   (B, T, H)
 * c = Σ m_t x_t / Σ m_t (B, 1, H);  last_hidden_state_t = x_t + tanh(x_t W1 + c W2 + b)   (B, T, H)
 */
export function tinyEncoderOnnx(hidden: number, seed: number): Uint8Array {
  const rand = gaussian(seed);
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => rand() * scale);
  const nodes: OnnxNode[] = [
    { op: "Gather", inputs: ["word", "input_ids"], outputs: ["xw"] }, // (B, T, H)
    { op: "Gather", inputs: ["type", "token_type_ids"], outputs: ["xt"] },
    { op: "Add", inputs: ["xw", "xt"], outputs: ["x"] },
    { op: "Cast", inputs: ["attention_mask"], outputs: ["mf"], attributes: [{ name: "to", int: 1 }] },
    { op: "Unsqueeze", inputs: ["mf", "axis_last"], outputs: ["m3"] }, // (B, T, 1)
    { op: "Mul", inputs: ["x", "m3"], outputs: ["xm"] },
    { op: "ReduceSum", inputs: ["xm", "axis_seq"], outputs: ["sum"] }, // (B, 1, H)
    { op: "ReduceSum", inputs: ["m3", "axis_seq"], outputs: ["count"] }, // (B, 1, 1)
    { op: "Div", inputs: ["sum", "count"], outputs: ["c"] },
    { op: "MatMul", inputs: ["x", "w1"], outputs: ["a1"] },
    { op: "MatMul", inputs: ["c", "w2"], outputs: ["a2"] },
    { op: "Add", inputs: ["a1", "a2"], outputs: ["a12"] },
    { op: "Add", inputs: ["a12", "b"], outputs: ["pre"] },
    { op: "Tanh", inputs: ["pre"], outputs: ["h"] },
    { op: "Add", inputs: ["x", "h"], outputs: ["last_hidden_state"] },
  ];
  const seqDims = ["batch", "sequence"];
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "input_ids", type: "int64", dims: seqDims },
      { name: "attention_mask", type: "int64", dims: seqDims },
      { name: "token_type_ids", type: "int64", dims: seqDims },
    ],
    outputs: [{ name: "last_hidden_state", type: "float", dims: [...seqDims, hidden] }],
    nodes,
    initializers: [
      { name: "word", dims: [VOCAB, hidden], data: fill(VOCAB * hidden, 1) },
      { name: "type", dims: [2, hidden], data: fill(2 * hidden, 0.1) },
      { name: "w1", dims: [hidden, hidden], data: fill(hidden * hidden, 1 / Math.sqrt(hidden)) },
      { name: "w2", dims: [hidden, hidden], data: fill(hidden * hidden, 1 / Math.sqrt(hidden)) },
      { name: "b", dims: [hidden], data: fill(hidden, 0.1) },
      { name: "axis_last", dims: [1], data: BigInt64Array.from([-1n]) },
      { name: "axis_seq", dims: [1], data: BigInt64Array.from([1n]) },
    ],
  });
}

/** Seeded standard normal samples (mulberry32 + Box-Muller). */
export function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
