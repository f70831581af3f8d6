// Writes a tiny cross-encoder that transformers.js loads as a BertForSequenceClassification
// export: the real all-MiniLM-L6-v2 tokenizer and an ONNX graph whose logit counts the word
// pieces the passage shares with the query (token ids hashed into 1024 one-hot buckets):
// logit = Σ_b count_query(b) · count_passage(b). Its right answers are known by construction.
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodeOnnxModel, type OnnxNode } from "../../../src/tensor/kernels/onnx-model.js";
import { fixture } from "../../helpers/fixtures.js";

const TOKENIZER_DIR = "models/all-MiniLM-L6-v2-tokenizer";
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"];
const BUCKETS = 1024;

export async function writeTinyCrossEncoder(dir: string): Promise<string> {
  await mkdir(path.join(dir, "onnx"), { recursive: true });
  for (const f of TOKENIZER_FILES) await copyFile(fixture(`${TOKENIZER_DIR}/${f}`), path.join(dir, f));
  const config = {
    architectures: ["BertForSequenceClassification"],
    model_type: "bert",
    hidden_size: BUCKETS,
    num_hidden_layers: 0,
    num_attention_heads: 1,
    vocab_size: 30522,
    type_vocab_size: 2,
    pad_token_id: 0,
    id2label: { "0": "LABEL_0" },
    label2id: { LABEL_0: 0 },
  };
  await writeFile(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  await writeFile(path.join(dir, "onnx", "model.onnx"), overlapOnnx());
  return dir;
}

function overlapOnnx(): Uint8Array {
  const eye = new Float32Array(BUCKETS * BUCKETS);
  for (let i = 0; i < BUCKETS; i++) eye[i * BUCKETS + i] = 1;
  const nodes: OnnxNode[] = [
    { op: "Mod", inputs: ["input_ids", "buckets"], outputs: ["bucket"] }, // (B, T)
    { op: "Gather", inputs: ["eye", "bucket"], outputs: ["x"] }, // (B, T, H) one-hot
    { op: "Cast", inputs: ["attention_mask"], outputs: ["m"], attributes: [{ name: "to", int: 1 }] },
    { op: "Cast", inputs: ["token_type_ids"], outputs: ["tt"], attributes: [{ name: "to", int: 1 }] },
    { op: "Mul", inputs: ["m", "tt"], outputs: ["mp"] }, // passage tokens
    { op: "Sub", inputs: ["m", "mp"], outputs: ["mq"] }, // query tokens
    { op: "Unsqueeze", inputs: ["mq", "axis_last"], outputs: ["mq3"] }, // (B, T, 1)
    { op: "Unsqueeze", inputs: ["mp", "axis_last"], outputs: ["mp3"] },
    { op: "Mul", inputs: ["x", "mq3"], outputs: ["xq"] },
    { op: "Mul", inputs: ["x", "mp3"], outputs: ["xp"] },
    { op: "ReduceSum", inputs: ["xq", "axis_seq"], outputs: ["q"] }, // (B, 1, H) counts
    { op: "ReduceSum", inputs: ["xp", "axis_seq"], outputs: ["p"] },
    { op: "Mul", inputs: ["q", "p"], outputs: ["qp"] },
    { op: "ReduceSum", inputs: ["qp", "axis_last"], outputs: ["s"] }, // (B, 1, 1)
    { op: "Squeeze", inputs: ["s", "axis_last"], outputs: ["logits"] }, // (B, 1)
  ];
  const seq = ["batch", "sequence"];
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "input_ids", type: "int64", dims: seq },
      { name: "attention_mask", type: "int64", dims: seq },
      { name: "token_type_ids", type: "int64", dims: seq },
    ],
    outputs: [{ name: "logits", type: "float", dims: ["batch", 1] }],
    nodes,
    initializers: [
      { name: "eye", dims: [BUCKETS, BUCKETS], data: eye },
      { name: "buckets", dims: [], data: BigInt64Array.from([BigInt(BUCKETS)]) },
      { name: "axis_last", dims: [1], data: BigInt64Array.from([-1n]) },
      { name: "axis_seq", dims: [1], data: BigInt64Array.from([1n]) },
    ],
  });
}
