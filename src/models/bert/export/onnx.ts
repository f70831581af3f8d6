// The encoder as an ONNX graph in the layout transformers.js and optimum exports use: inputs
// input_ids, attention_mask, token_type_ids (int64, (B, T)), output last_hidden_state (B, T, C),
// standard opset-17 ops only (Gather, LayerNormalization, MatMul, Softmax, Erf/Tanh), weights as
// float32 initializers. Written by tensor/kernels/onnx-model.ts. Pooling happens in the caller
// (transformers.js' pipeline pools mean or CLS), as with every feature-extraction export.
// Shapes: B batch, T tokens, C hidden, H heads, D head size, F ffn.
import type { OnnxInitializer, OnnxNode } from "../../../tensor/kernels/onnx-model.js";
import { encodeOnnxModel } from "../../../tensor/kernels/onnx-model.js";
import type { BertModel } from "../model.js";
import type { NamedWeight } from "./weights.js";

/** Masked keys get this added to their score: exp() of it is 0 after softmax's max shift. */
const MASKED = -1e9;

export function encoderOnnx(model: BertModel, weights: NamedWeight[]): Uint8Array {
  const c = model.config;
  const d = c.dim / c.heads;
  const byName = new Map(weights.map((w) => [w.name, w]));
  const get = (name: string) => byName.get(name)!;
  const nodes: OnnxNode[] = [];
  const inits: OnnxInitializer[] = [];
  const node = (op: string, inputs: string[], output: string, attributes?: OnnxNode["attributes"]) => {
    nodes.push({ op, inputs, outputs: [output], ...(attributes ? { attributes } : {}) });
    return output;
  };
  const init = (name: string, dims: number[], data: OnnxInitializer["data"]) => {
    inits.push({ name, dims, data });
    return name;
  };
  const vector = (name: string) => init(name, get(name).shape, get(name).data);
  const f = (name: string, v: number) => init(name, [], Float32Array.of(v));
  const i64 = (name: string, v: number[], dims = [v.length]) => init(name, dims, BigInt64Array.from(v.map(BigInt)));

  // embeddings: word + position + token type, LayerNorm  (B, T, C)
  const word = node("Gather", [vector("token_embd.weight"), "input_ids"], "emb_word");
  const shape = node("Shape", ["input_ids"], "ids_shape");
  const t = node("Gather", [shape, i64("one_i", [1], [])], "seq_len", [{ name: "axis", int: 0 }]);
  const offset = i64("pos_offset", [c.positionOffset], []);
  const limit = node("Add", [t, offset], "pos_limit");
  const positions = node("Range", [offset, limit, i64("step_i", [1], [])], "positions"); // (T)
  const pos = node("Gather", [vector("position_embd.weight"), positions], "emb_pos"); // (T, C)
  let x = node("Add", [word, pos], "emb_wp");
  if (byName.has("token_types.weight"))
    x = node("Add", [x, node("Gather", [vector("token_types.weight"), "token_type_ids"], "emb_type")], "emb_sum");
  x = layerNorm(x, "token_embd_norm", "emb_out");

  // additive key mask (B, 1, 1, T): 0 for tokens, MASKED for padding
  const m = node("Cast", ["attention_mask"], "mask_f", [{ name: "to", int: 1 }]);
  const inv = node("Sub", [f("one_f", 1), m], "mask_inv");
  const add = node("Mul", [inv, f("masked", MASKED)], "mask_add");
  const mask = node("Unsqueeze", [add, i64("axes_12", [1, 2])], "mask_4d");

  const heads = i64("shape_bthd", [0, 0, c.heads, d]);
  const merged = i64("shape_btc", [0, 0, c.dim]);
  const scale = f("attn_scale", 1 / Math.sqrt(d));
  for (let l = 0; l < c.layers; l++) {
    const p = `blk.${l}`;
    const split = (name: string, perm: number[]) =>
      node("Transpose", [node("Reshape", [linear(x, `${p}.${name}`), heads], `${p}.${name}.heads`)], `${p}.${name}.t`, [
        { name: "perm", ints: perm },
      ]);
    const q = split("attn_q", [0, 2, 1, 3]); // (B, H, T, D)
    const k = split("attn_k", [0, 2, 3, 1]); // (B, H, D, T)
    const v = split("attn_v", [0, 2, 1, 3]); // (B, H, T, D)
    const scores = node("Add", [node("Mul", [node("MatMul", [q, k], `${p}.qk`), scale], `${p}.qk_s`), mask], `${p}.s`);
    const probs = node("Softmax", [scores], `${p}.probs`, [{ name: "axis", int: -1 }]);
    const ctx = node("MatMul", [probs, v], `${p}.ctx`); // (B, H, T, D)
    const ctxT = node("Transpose", [ctx], `${p}.ctx_t`, [{ name: "perm", ints: [0, 2, 1, 3] }]);
    const attn = linear(node("Reshape", [ctxT, merged], `${p}.ctx_m`), `${p}.attn_output`); // (B, T, C)
    const x1 = layerNorm(node("Add", [x, attn], `${p}.res1`), `${p}.attn_output_norm`, `${p}.x1`);
    const h = gelu(linear(x1, `${p}.ffn_up`), `${p}.gelu`); // (B, T, F)
    x = layerNorm(node("Add", [x1, linear(h, `${p}.ffn_down`)], `${p}.res2`), `${p}.layer_output_norm`, `${p}.out`);
  }
  nodes.at(-1)!.outputs = ["last_hidden_state"];

  const seq = ["batch_size", "sequence_length"];
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "input_ids", type: "int64", dims: seq },
      { name: "attention_mask", type: "int64", dims: seq },
      { name: "token_type_ids", type: "int64", dims: seq },
    ],
    outputs: [{ name: "last_hidden_state", type: "float", dims: [...seq, c.dim] }],
    nodes,
    initializers: inits,
    graphName: "infuse-bert",
  });

  /** x (…, K) · Wᵀ + b with W stored transposed (K, N) for MatMul. */
  function linear(input: string, name: string): string {
    const w = get(`${name}.weight`);
    const [n, kk] = w.shape as [number, number];
    const wt = new Float32Array(n * kk);
    for (let r = 0; r < n; r++) for (let col = 0; col < kk; col++) wt[col * n + r] = w.data[r * kk + col]!;
    const mm = node("MatMul", [input, init(`${name}.weight_t`, [kk, n], wt)], `${name}.mm`);
    return node("Add", [mm, vector(`${name}.bias`)], `${name}.y`);
  }

  function layerNorm(input: string, name: string, output: string): string {
    return node("LayerNormalization", [input, vector(`${name}.weight`), vector(`${name}.bias`)], output, [
      { name: "axis", int: -1 },
      { name: "epsilon", float: c.eps },
    ]);
  }

  /** Exact: x·½(1 + erf(x/√2)); tanh: x·½(1 + tanh(√(2/π)(x + 0.044715x³))). */
  function gelu(input: string, name: string): string {
    let inner: string;
    if (c.gelu === "erf") {
      inner = node("Erf", [node("Mul", [input, f(`${name}.rsqrt2`, Math.SQRT1_2)], `${name}.a`)], `${name}.e`);
    } else {
      const cube = node("Mul", [node("Mul", [input, input], `${name}.x2`), input], `${name}.x3`);
      const sum = node("Add", [input, node("Mul", [cube, f(`${name}.c`, 0.044715)], `${name}.cx3`)], `${name}.s`);
      const arg = node("Mul", [sum, f(`${name}.k`, Math.sqrt(2 / Math.PI))], `${name}.a`);
      inner = node("Tanh", [arg], `${name}.e`);
    }
    const onePlus = node("Add", [inner, f(`${name}.one`, 1)], `${name}.p`);
    const half = node("Mul", [input, f(`${name}.half`, 0.5)], `${name}.h`);
    return node("Mul", [half, onePlus], `${name}.y`);
  }
}
