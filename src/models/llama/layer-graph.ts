// One onnxruntime graph per decoder layer for B sequences of T new tokens each: RMSNorm, q/k/v, per-row
// RoPE, grouped-query attention of each sequence over its own cache and its new tokens, o, SwiGLU MLP and
// both residual adds in one native call, instead of ~13 calls and TypeScript loops; consecutive layers'
// graphs chain into one session (stackSpec) so a pass over the model is one run or a few. LlamaDecoder
// runs it as (B = 1, T) over its own cache (prompt chunks and single steps); BatchDecoder's steps as
// (B, T = 1) over PackedKv's caches, so a process holds one set of (prepacked) weights for both. F32
// matrices of a GGUF file are initializers that onnxruntime reads from the file itself and prepacks
// (the loader's copies then dropped, read back from the file if another path needs them), q|k|v and
// gate|up as one where they lie together there, consecutive layers per session up to 96 MiB; F32
// weights with no file are fed (zero-copy views; stacked where they load so), sessions shared per
// shape: every layer in one for decode steps, one layer for prompt chunks; block-quantized and F16
// weights as MatMulNBits initializers (int8 activations, as llama.cpp: Q4_0/Q8_0 in their own blocks,
// Q4_K in 4-bit blocks with the same values, the rest as 8-bit blocks), read from a temporary file,
// groups stacked, consecutive layers per session up to `stageBytes`. LoRA adapters are two more
// products per adapted linear (held where frozen and the sessions hold the weights, else fed).
// Leaves out biases, other adapters and rows that are not whole blocks of 32: decode.ts's per-op path
// runs those.
// Shapes: B sequences, T new tokens each, N = B·T rows, S cache positions, C hidden, H heads,
// Hkv kv heads, G = H/Hkv, D head size, F ffn.
import { realpathSync } from "node:fs";
import path from "node:path";
import { QuantTensor, Tensor, ortAvailable, ortGraph, type OrtGraph, type OrtValue } from "../../tensor/index.js";
import {
  heldF32Kernel,
  holdF32Weight,
  modelScratch,
  ortGraphOfEncoded,
  withModelScratch,
  type PlaceBytes,
} from "../../tensor/kernels/ort.js";
import {
  encodeOnnxModel,
  type OnnxInitializer,
  type OnnxModelSpec,
  type OnnxNode,
} from "../../tensor/kernels/onnx-model.js";
import { dropBytes, dropTensorValues, q4kToNBits, toNBits, toNBits8Stacked } from "../../tensor/quant/nbits.js";
import { prepareQmatmul, requantizeAtEveryM } from "../../tensor/quant/qmatmul.js";
import type { Linear } from "../linear.js";
import type { LlamaModel } from "./model.js";
import { fileRange, stackedRows, type LlamaLayer } from "./weights.js";

export const LINEARS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type LinearName = (typeof LINEARS)[number];

/** How the graphs of a model hold its weights; null when some layer needs decode.ts's general path. */
export function weightKind(layers: LlamaLayer[]): "f32" | "nbits" | null {
  let kind: "f32" | "nbits" | null = null;
  for (const layer of layers) {
    for (const name of LINEARS) {
      const lin: Linear = layer[name];
      if (lin.bias || (lin.adapter && !lin.adapter.lowRank)) return null;
      const w = lin.weight;
      // Q8_0 on every CPU: quantized prompts run in chunks of 64 rows (decode.ts), where the int8 kernel
      // beats the exact tiles even without int8 dot products (qmatmul.ts's Q8_INT8_MAX_ROWS_NO_DOT).
      // Q4_K in its own 4-bit blocks (q4kToNBits), other types (Q6_K, Q5_*, NF4, F16, BF16) as 8-bit
      // blocks (toNBits8): decoding their exact tiles per op cost seconds a token at 1B (F16
      // SmolLM-135M: 0.6 s, against 10 ms as 8-bit blocks).
      const k = w instanceof Tensor ? "f32" : w.rowLength % 32 === 0 ? "nbits" : null;
      if (!k || (kind && kind !== k)) return null;
      kind = k;
    }
  }
  return kind;
}

interface Shape {
  c: number;
  heads: number;
  kvHeads: number;
  d: number;
  ffn: number;
  eps: number;
  scale: number;
  interleaved: boolean;
  /** F32 weights fed stacked where they lie so (weights.ts stackRows): q|k|v and gate|up one input each. */
  stacked: boolean;
}

const i64 = (...xs: number[]): BigInt64Array => BigInt64Array.from(xs.map(BigInt));

/**
 * Each linear of a layer with a low-rank adapter (LoRA), by name: its rank, its scale, and, where the
 * sessions hold a frozen adapter, its A and B (initializers, prepacked once; else fed at every run).
 */
export type LayerAdapters = ReadonlyMap<LinearName, LayerAdapter>;
interface LayerAdapter {
  r: number;
  scale: number;
  held?: { a: Tensor; b: Tensor };
}
const NO_ADAPTERS: LayerAdapters = new Map();

/**
 * The layer graph. `quant` names the MatMulNBits initializers per group of linears that read one
 * input ("q_k_v", "o", "gate_up", "down": their rows stacked, one kernel call); absent: fed f32 weights.
 * `adapters`: linears whose output gains s·(x·Aᵀ)·Bᵀ: A (r, K) and B (N, r) as initializers where
 * held (`lora_a_q`, `lora_b_q`), else fed, so an adapter that trains on between two passes is read as
 * it is now; s in the graph.
 */
function layerSpec(
  g: Shape,
  quant: Map<string, OnnxInitializer[]> | null,
  adapters: LayerAdapters = NO_ADAPTERS,
  place?: PlaceBytes,
): OnnxModelSpec & { initializers: OnnxInitializer[] } {
  const { c, heads, kvHeads, d, ffn, eps, interleaved } = g;
  const nodes: OnnxNode[] = [];
  const node = (op: string, inputs: string[], output: string, attributes: OnnxNode["attributes"] = []): string => {
    nodes.push({ op, inputs, outputs: [output], attributes });
    return output;
  };
  const consts: OnnxInitializer[] = [{ name: "scale", dims: [1], data: Float32Array.of(g.scale) }];
  const shape = (name: string, ...dims: number[]): string => {
    consts.push({ name, dims: [dims.length], data: i64(...dims) });
    return name;
  };
  const perm = (ints: number[]) => [{ name: "perm", ints }];
  const last = [{ name: "axis", int: -1 }];
  const weightInputs: string[] = [];
  /** Per input, the sums of its blocks of 32 (rows, K/32): what Q4_K's zero points leave of its minimums is subtracted as Σx·rest. */
  const blockSums = new Map<string, string>();
  const nbits = (inits: OnnxInitializer[], x: string, out: string, n: number, k: number): string => {
    const rests = inits[3]; // Q4_K (q4kToNBits): B, scales, zero points, the minimums' rests (N, K/32)
    nodes.push({
      op: "MatMulNBits",
      domain: "com.microsoft",
      inputs: [x, inits[0]!.name, inits[1]!.name, ...(rests ? [inits[2]!.name] : [])],
      outputs: [rests ? `${out}_nomin` : out],
      attributes: [
        { name: "K", int: k },
        { name: "N", int: n },
        { name: "bits", int: inits[0]!.dims[2] === 32 ? 8 : 4 },
        { name: "block_size", int: 32 },
        { name: "accuracy_level", int: 4 },
      ],
    });
    if (!rests) return out;
    let sums = blockSums.get(x);
    if (!sums) {
      const blocks = node("Reshape", [x, shape(`blocks_of_${x}`, -1, k / 32, 32)], `${x}_blocks`);
      sums = node("ReduceSum", [blocks, shape(`sum_axes_${x}`, -1)], `${x}_block_sums`, [{ name: "keepdims", int: 0 }]);
      blockSums.set(x, sums);
    }
    const transB = { name: "transB", int: 1 };
    return node("Gemm", [sums, rests.name, `${out}_nomin`], out, [transB, { name: "alpha", float: -1 }]);
  };
  const adapterInputs: { name: string; dims: number[] }[] = [];
  /** y + s·(x·Aᵀ)·Bᵀ of an adapted linear: the scale and the sum in the second Gemm (alpha, C). */
  const lowRank = (name: LinearName, x: string, y: string, n: number, k: number): string => {
    const { r, scale, held } = adapters.get(name)!;
    const [a, b] = [`lora_a_${name}`, `lora_b_${name}`];
    if (held) {
      // through `place` where the session reads its initializers from a file (no heap copies while built)
      const bytes = (t: Tensor) =>
        place ? place(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)) : t.data;
      consts.push(
        { name: a, dims: [r, k], data: bytes(held.a), type: "float" },
        { name: b, dims: [n, r], data: bytes(held.b), type: "float" },
      );
    } else adapterInputs.push({ name: a, dims: [r, k] }, { name: b, dims: [n, r] });
    const xa = node("Gemm", [x, `lora_a_${name}`], `xa_${name}`, [{ name: "transB", int: 1 }]);
    const alpha = { name: "alpha", float: scale };
    return node("Gemm", [xa, `lora_b_${name}`, y], `ya_${name}`, [{ name: "transB", int: 1 }, alpha]);
  };
  /** x · Wᵀ of each named linear (plus its adapter's product), all of one input. */
  const linears = (names: LinearName[], x: string, ns: number[], k: number): string[] =>
    baseLinears(names, x, ns, k).map((y, i) => (adapters.has(names[i]!) ? lowRank(names[i]!, x, y, ns[i]!, k) : y));
  /** x · Wᵀ of each named linear, all of one input; quantized ones as one MatMulNBits over their rows. */
  const baseLinears = (names: LinearName[], x: string, ns: number[], k: number): string[] => {
    const inits = quant?.get(names.join("_"));
    const gemm = (w: string, out: string): string => node("Gemm", [x, w], out, [{ name: "transB", int: 1 }]);
    const fed = (name: string, out: string): string => {
      weightInputs.push(`W_${name}`);
      return gemm(`W_${name}`, out);
    };
    // held: one f32 initializer (W) or MatMulNBits' two (B, scales)
    const held = (w: OnnxInitializer[], out: string, n: number): string =>
      w.length === 1 ? gemm(w[0]!.name, out) : nbits(w, x, out, n, k);
    // held f32 weights that do not lie together in their file: one initializer per linear
    const apart = !inits && quant !== null && names.every((name) => quant.has(name));
    if (apart) return names.map((name, i) => held(quant.get(name)!, `y_${name}`, ns[i]!));
    if (!inits && !g.stacked) return names.map((name) => fed(name, `y_${name}`));
    const outs = names.map((name) => `y_${name}`);
    if (names.length === 1) return [inits ? held(inits, outs[0]!, ns[0]!) : fed(names[0]!, outs[0]!)];
    const tag = names.join("_");
    const y = inits
      ? held(
          inits,
          `y_${tag}`,
          ns.reduce((a, b) => a + b),
        )
      : fed(tag, `y_${tag}`);
    nodes.push({ op: "Split", inputs: [y, shape(`split_${names.join("_")}`, ...ns)], outputs: outs, attributes: last });
    return outs;
  };
  const linear = (name: LinearName, x: string, n: number, k: number): string => linears([name], x, [n], k)[0]!;
  const epsilon = [{ name: "epsilon", float: eps }];
  /** Rotates the heads of x (N, n·D) by each row's cos/sin (N, D/2), as (1, N, n·D) rows at positions 0 … N−1. */
  const rope = (x: string, n: number, tag: string): string => {
    const rows = node("Reshape", [x, shape(`${tag}_s3`, 1, -1, n * d)], `${tag}_3`);
    nodes.push({
      op: "RotaryEmbedding",
      domain: "com.microsoft",
      inputs: [rows, "pos", "cos", "sin"],
      outputs: [tag],
      attributes: [
        { name: "interleaved", int: interleaved ? 1 : 0 },
        { name: "num_heads", int: n },
      ],
    });
    return tag;
  };
  const h1 = node("SimplifiedLayerNormalization", ["X", "attn_norm"], "h1", [...epsilon, ...last]);
  const [yq, yk, v] = linears(["q", "k", "v"], h1, [heads * d, kvHeads * d, kvHeads * d], c);
  const q = rope(yq!, heads, "rq"); // (1, N, H·D)
  const k = rope(yk!, kvHeads, "rk");
  // (B, T, Hkv, G, D) → (B, Hkv, G, T, D) → (B, Hkv, G·T, D): row gi·T + i, as decode.ts's causal mask
  const qg = node(
    "Reshape",
    [node("Transpose", [node("Reshape", [q, "s_q5"], "q5")], "q5t", perm([0, 2, 3, 1, 4])), "s_qg"],
    "qg",
  );
  node("Transpose", [node("Reshape", [k, "s_k4"], "k4")], "K_new", perm([0, 2, 1, 3])); // (B, Hkv, T, D)
  node("Transpose", [node("Reshape", [v!, "s_k4"], "v4")], "V_new", perm([0, 2, 1, 3]));
  const scores = (keys: string, mask: string, tag: string): string => {
    const s0 = node("MatMul", [qg, node("Transpose", [keys], `${tag}_kt`, perm([0, 1, 3, 2]))], `${tag}_s0`);
    return node("Add", [node("Mul", [s0, "scale"], `${tag}_s1`), mask], `${tag}_s2`);
  };
  // Scores over the cache (B, Hkv, G·T, S) and over the new tokens (…, T) side by side: one softmax
  // over both, without copying the cache to append the new keys.
  const both = node("Concat", [scores("K_cache", "M_cache", "c"), scores("K_new", "M_new", "n")], "s_all", last);
  const p = node("Softmax", [both], "p", last);
  nodes.push({ op: "Split", inputs: [p, "split"], outputs: ["p_c", "p_n"], attributes: last });
  const og = node("Add", [node("MatMul", ["p_c", "V_cache"], "o_c"), node("MatMul", ["p_n", "V_new"], "o_n")], "og"); // (B, Hkv, G·T, D)
  const att = node(
    "Reshape",
    [
      node("Transpose", [node("Reshape", [og, "s_o5"], "o5")], "o5t", perm([0, 3, 1, 2, 4])),
      shape("s_att", -1, heads * d),
    ],
    "att",
  ); // (N, H·D)
  // x1 = X + o(att) and its norm h2 in one op
  nodes.push({
    op: "SkipSimplifiedLayerNormalization",
    domain: "com.microsoft",
    inputs: [linear("o", att, c, heads * d), "X", "ffn_norm"],
    outputs: ["h2", "", "", "x1"],
    attributes: epsilon,
  });
  const [x1, h2] = ["x1", "h2"];
  const [gate, up] = linears(["gate", "up"], h2, [ffn, ffn], c);
  const act = node("Mul", [node("Mul", [gate!, node("Sigmoid", [gate!], "sg")], "silu"), up!], "act");
  node("Add", [x1, linear("down", act, c, ffn)], "Y");

  const f = (name: string, dims: (number | string)[]) => ({ name, type: "float" as const, dims });
  const ints = (name: string, n: number) => ({ name, type: "int64" as const, dims: [n] });
  return {
    opset: 17,
    extraOpsets: { "com.microsoft": 1 },
    inputs: [
      f("X", ["n", c]),
      f("K_cache", ["b", kvHeads, "s", d]),
      f("V_cache", ["b", kvHeads, "s", d]),
      f("M_cache", ["b", 1, 1, "s"]),
      f("M_new", ["mr", "t"]),
      { name: "pos", type: "int64" as const, dims: [1, "n"] },
      f("cos", ["n", d / 2]),
      f("sin", ["n", d / 2]),
      f("attn_norm", [c]),
      f("ffn_norm", [c]),
      ints("s_q5", 5),
      ints("s_qg", 4),
      ints("s_k4", 4),
      ints("s_o5", 5),
      ints("split", 2),
      ...weightInputs.map((name) => f(name, [`${name}_n`, `${name}_k`])),
      ...adapterInputs.map(({ name, dims }) => f(name, dims)),
    ],
    outputs: [f("Y", ["n", c]), f("K_new", ["b", kvHeads, "t", d]), f("V_new", ["b", kvHeads, "t", d])],
    nodes,
    initializers: [...consts, ...[...(quant?.values() ?? [])].flat()],
  };
}

/** Inputs of the layer graph that every layer of a stack reads as they are (the rest is per layer). */
const SHARED_INPUTS = new Set(["M_cache", "M_new", "pos", "cos", "sin", "s_q5", "s_qg", "s_k4", "s_o5", "split"]);

/**
 * Layer graphs chained into one (layer i's Y is layer i+1's X), one spec per layer (layerSpec): a pass
 * over them is one onnxruntime run. Layer i's own inputs, outputs and weights are named
 * `L{i}_K_cache`, `L{i}_W_o`, `L{i}_B_q_k_v`, `L{i}_K_new`…; the masks, RoPE rows, shape feeds and
 * constants are shared.
 */
function stackSpec(g: Shape, specs: OnnxModelSpec[]): OnnxModelSpec {
  const shared = new Set([...SHARED_INPUTS, ...layerSpec(g, null).initializers.map((i) => i.name)]);
  const last = specs.length - 1;
  const rename = (i: number) => (name: string) => {
    if (name === "" || shared.has(name)) return name;
    if (name === "X") return i === 0 ? "X" : `L${i - 1}_Y`;
    if (name === "Y" && i === last) return "Y";
    return `L${i}_${name}`;
  };
  const perLayer = <T>(f: (spec: OnnxModelSpec, r: (name: string) => string) => T[]): T[] =>
    specs.flatMap((spec, i) => f(spec, rename(i)));
  const own = <T extends { name: string }>(items: T[], r: (name: string) => string): T[] =>
    items.filter((v) => v.name !== "X" && !shared.has(v.name)).map((v) => ({ ...v, name: r(v.name) }));
  const first = specs[0]!;
  return {
    ...first,
    inputs: [
      ...first.inputs.filter((v) => v.name === "X" || shared.has(v.name)),
      ...perLayer((spec, r) => own(spec.inputs, r)),
    ],
    outputs: [first.outputs[0]!, ...perLayer((spec, r) => own(spec.outputs.slice(1), r))],
    nodes: perLayer((spec, r) => spec.nodes.map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }))),
    initializers: [
      ...(first.initializers ?? []).filter((i) => shared.has(i.name)),
      ...perLayer((spec, r) => own(spec.initializers ?? [], r)),
    ],
  };
}

/** Linears that read one input: quantized, each group is one weight of their rows stacked (no extra copy). */
const GROUPS: LinearName[][] = [["q", "k", "v"], ["o"], ["gate", "up"], ["down"]];

/** A number per held adapter matrix, so sessions built for one are rebuilt for another. */
const heldIds = new WeakMap<Tensor, number>();
let nextHeldId = 1;
function heldId(a: Tensor): number {
  let id = heldIds.get(a);
  if (id === undefined) heldIds.set(a, (id = nextHeldId++));
  return id;
}

/** F32 graphs hold no weights: one session per shape serves every layer of every model. */
const sharedF32 = new Map<string, OrtGraph>();
const byModel = new WeakMap<LlamaModel, LayerGraphs>();

/** What a pass of the layer graphs over every layer reads and writes; caches are (B, Hkv, S, D). */
export interface LayersIo {
  /** (N, C) in; overwritten (a pass of several runs goes back and forth between x and y). */
  x: Float32Array;
  /** (N, C) out. */
  y: Float32Array;
  /** Per layer, the cached keys and values. */
  kCache: Float32Array[];
  vCache: Float32Array[];
  /** (B, 1, 1, S): 0 where a sequence's cache holds its tokens, −∞ elsewhere. */
  maskCache: Float32Array;
  /** (G·T, T) causal mask of the new tokens among themselves ((1, 1) zeros when T = 1). */
  maskNew: Float32Array;
  /** (N, D/2) per row. */
  cos: Float32Array;
  sin: Float32Array;
  /** Takes layer l's new rotated keys and values (B, Hkv, T, D) after its run (the arrays are reused). */
  store(l: number, kNew: Float32Array, vNew: Float32Array): void;
}

/** The most rows (B·T) an f32 pass runs as one stacked graph: decode steps, a batch of them included. */
const STACK_MAX_ROWS = 16;

/**
 * Quantized weight bytes per session: consecutive layers share one while their MatMulNBits weights fit,
 * and at least two layers share one where a layer alone outgrows it. Each session costs a run per pass
 * and its own intra-op pool (30 tiny sessions: +41 MB RSS); a larger one, more of onnxruntime's
 * transient copies at once while it is built. SmolLM-135M Q8_0 (5 sessions of 6 layers against 30 of
 * one): decode 77 → 91–98 tokens/s. TinyLlama-1.1B Q4_0 (28 MB a layer; bench child, alternating):
 * one layer a session 28–39 tokens/s, peak RSS 1,084–1,115 MB; two (11 sessions) 33–38, 1,069–1,083;
 * four, 40–41 and 1,072–1,091 at first, then 29.6–30.8 against two's 28.1–40.2 alternating: no gain.
 * A 64 MiB limit for every model took SmolLM-135M Q8_0 to two sessions and its bench peak from
 * 368–370 to 378–381 MB (llama.cpp 338–342); 128 MiB, one session, 404–410.
 */
let stageBytes = 24 << 20;
/** Layers a quantized session holds at least, whatever their bytes. */
let stageMinLayers = 2;

/**
 * F32 weight bytes per session where onnxruntime holds them. It maps them from the file while it builds
 * a session (their pages count until it returns), and each session costs a run per pass: SmolLM-135M
 * F32 (14 MB a layer), 30 sessions of one layer: 47 tokens/s; 5 of six: 52–53, peak RSS ~765 MB; one of
 * all: 54, but ~1.07 GB while it was built.
 */
const F32_STAGE_BYTES = 96 << 20;

/**
 * Sets the quantized weight bytes a session may hold and the layers it holds at least (tests split
 * small models into a session a layer); returns the previous settings.
 */
export function setStageBytes(bytes: number, minLayers = 2): { bytes: number; minLayers: number } {
  const before = { bytes: stageBytes, minLayers: stageMinLayers };
  stageBytes = bytes;
  stageMinLayers = minLayers;
  return before;
}

/** One session and the layers [from, to) it runs, chained. */
interface Stage {
  from: number;
  to: number;
  graph: OrtGraph;
}

/** The bytes a session holds for a layer's linears: f32 values, or MatMulNBits' (plus an f32 scale per block of 32). */
function layerHeldBytes(layer: LlamaLayer): number {
  return LINEARS.reduce((sum, name) => {
    const w = layer[name].weight;
    if (w instanceof Tensor) return sum + w.size * 4;
    const bits = w.type === "q4_0" || w.type === "q4_k" ? 4 : 8;
    return sum + w.rows * w.rowLength * (bits / 8 + (w.type === "q4_k" ? 8 : 4) / 32);
  }, 0);
}

/**
 * The GGUF file every f32 matrix of the layers lies in, where onnxruntime can hold them (read there
 * itself, prepacked) and the loader's copies can go and come back (Tensor.dropValues); else null: fed.
 */
function heldF32File(layers: LlamaLayer[]): string | null {
  let file: string | null = null;
  for (const layer of layers) {
    for (const name of LINEARS) {
      const w = layer[name].weight as Tensor;
      const range = fileRange(w);
      if (!range || !w.reloadable || w.requiresGrad || (file !== null && range.file !== file)) return null;
      file = range.file;
    }
  }
  // onnxruntime refuses external data that resolves outside the folder: name the file's real path
  return file === null ? null : realpathSync(file);
}

/**
 * A layer's f32 initializers, their bytes left in the model file: per group (GROUPS) one (ΣN, K) matrix
 * where its linears lie one after another there (our writer's order), else one per linear (llama.cpp's
 * converter writes k, o, q, v). Keyed as layerSpec's `quant` map: by group tag, or by linear name.
 */
function f32Initializers(layer: LlamaLayer, file: string): Map<string, OnnxInitializer[]> {
  const inits = new Map<string, OnnxInitializer[]>();
  const external = (tag: string, weights: Tensor[]): OnnxInitializer => {
    const { offset } = fileRange(weights[0]!)!;
    const rows = weights.reduce((n, w) => n + w.shape[0]!, 0);
    const k = weights[0]!.shape[1]!;
    const data = { file: path.basename(file), offset, byteLength: rows * k * 4 };
    return { name: `W_${tag}`, dims: [rows, k], type: "float", data };
  };
  for (const names of GROUPS) {
    const weights = names.map((name) => layer[name].weight as Tensor);
    const ranges = weights.map((w) => fileRange(w)!);
    const together = ranges.every((r, i) => i === 0 || r.offset === ranges[i - 1]!.offset + weights[i - 1]!.size * 4);
    if (together) inits.set(names.join("_"), [external(names.join("_"), weights)]);
    else names.forEach((name, i) => inits.set(name, [external(name, [weights[i]!])]));
  }
  return inits;
}

/**
 * A layer's MatMulNBits initializers per group (GROUPS), keyed as layerSpec's `quant` map: the group's
 * blocks converted from their GGUF blocks (nbits.ts toNBits) where `place` puts them, and f32 scales.
 */
function nbitsInitializers(layer: LlamaLayer, place: PlaceBytes): Map<string, OnnxInitializer[]> {
  const inits = new Map<string, OnnxInitializer[]>();
  for (const names of GROUPS) {
    const weights = names.map((name) => layer[name].weight as QuantTensor);
    const tag = names.join("_");
    const q4k = q4kToNBits(weights);
    if (q4k) {
      const blocks = q4k.k / 32;
      inits.set(tag, [
        { name: `B_${tag}`, dims: [q4k.n, blocks, 16], data: place(q4k.packed), type: "uint8" },
        { name: `S_${tag}`, dims: [q4k.n * blocks], data: q4k.scales, type: "float" },
        { name: `Z_${tag}`, dims: [q4k.zeros.length], data: q4k.zeros, type: "uint8" },
        { name: `M_${tag}`, dims: [q4k.n, blocks], data: q4k.minRests, type: "float" },
      ]);
      continue;
    }
    const form = toNBits(weights) ?? toNBits8Stacked(weights)!;
    inits.set(tag, [
      { name: `B_${tag}`, dims: [form.n, form.k / 32, (32 * form.bits) / 8], data: place(form.packed), type: "uint8" },
      { name: `S_${tag}`, dims: [(form.n * form.k) / 32], data: form.scales, type: "float" },
    ]);
  }
  return inits;
}

/**
 * The layer graphs of one model (shared by its decoders), built on first use. F32 from a GGUF file and
 * quantized: the weights are the sessions' initializers, consecutive layers stacked up to
 * F32_STAGE_BYTES / `stageBytes` a session. F32 with no file: sessions hold no weights and are shared
 * by every model of a shape; a decode step runs every layer as one stacked graph, a prompt chunk one
 * layer graph per layer (a stacked session's arena would keep every layer's intermediates of a
 * 512-token chunk: SmolLM-135M F32, RSS after 4 prompts 772 → 850 MB).
 */
export class LayerGraphs {
  private stages: Stage[] | undefined;
  /** F32: the stages of the shared sessions, by layers per run (every layer, or one). */
  private readonly f32Stages = new Map<number, Stage[]>();
  private dims: { key: string; feeds: Record<string, OrtValue> } | undefined;
  /** Per layer, the f32 weights of each group as one (ΣN, K) buffer; null: fed one by one. */
  private readonly stacks: Float32Array[][] | null;
  /** F32 weights onnxruntime holds, read from this GGUF file (the sessions' initializers); null: fed. */
  private readonly heldFile: string | null;
  /** The new keys and values a run writes, (layers of the stage, B, Hkv, T, D) each. */
  private newKv = { k: new Float32Array(0), v: new Float32Array(0) };
  /** The adapters the sessions were built for (adapterKey); they are rebuilt when it changes. */
  private builtFor = "";

  private constructor(
    private readonly model: LlamaModel,
    private readonly kind: "f32" | "nbits",
  ) {
    this.heldFile = kind === "f32" ? heldF32File(model.weights.layers) : null;
    const stacks =
      kind === "f32" && !this.heldFile
        ? model.weights.layers.map((layer) => GROUPS.map((names) => stackedRows(names.map((n) => layer[n].weight))))
        : [];
    this.stacks = stacks.length && stacks.every((l) => l.every((w) => w)) ? (stacks as Float32Array[][]) : null;
  }

  /**
   * The graphs of `model`, or null where they do not apply: no onnxruntime, other storage types, biases,
   * adapters (checked at each call: they can be set after loading), or INFUSE_LAYER_GRAPHS=0.
   */
  static for(model: LlamaModel): LayerGraphs | null {
    if (!ortAvailable() || process.env["INFUSE_LAYER_GRAPHS"] === "0") return null;
    const kind = weightKind(model.weights.layers);
    if (!kind) return null;
    let graphs = byModel.get(model);
    if (!graphs) byModel.set(model, (graphs = new LayerGraphs(model, kind)));
    return graphs;
  }

  private shape(): Shape {
    const c = this.model.config;
    return {
      c: c.dim,
      heads: c.heads,
      kvHeads: c.kvHeads,
      d: c.headDim,
      ffn: c.ffnDim,
      eps: c.rmsEps,
      scale: this.model.attnScale,
      interleaved: c.ropeLayout === "interleaved",
      stacked: this.stacks !== null,
    };
  }

  /** Whether the sessions hold the weights (quantized, or f32 read from the model file), not fed them. */
  get holdsWeights(): boolean {
    return this.kind === "nbits" || this.heldFile !== null;
  }

  /** Whether the sessions hold quantized (MatMulNBits) weights. */
  get quantized(): boolean {
    return this.kind === "nbits";
  }

  /** The runs of a pass over every layer for N = B·T rows. */
  plan(rows: number): readonly { from: number; to: number }[] {
    return this.stagesFor(rows);
  }

  /**
   * Whether the sessions hold this adapter's A and B: they hold the model's weights, and the adapter is
   * frozen (loadLora's, for serving); one that trains stays fed, read as it is at each run.
   */
  private holdsAdapter(low: { a: Tensor; b: Tensor }): boolean {
    return this.holdsWeights && !low.a.requiresGrad && !low.b.requiresGrad;
  }

  /** Layer l's linears with a low-rank adapter: rank, scale, and A and B where the sessions hold them. */
  private adaptersOf(l: number): LayerAdapters {
    const layer = this.model.weights.layers[l]!;
    const adapters = new Map<LinearName, LayerAdapter>();
    for (const name of LINEARS) {
      const low = layer[name].adapter?.lowRank?.();
      if (!low) continue;
      const held = this.holdsAdapter(low) ? { held: { a: low.a, b: low.b } } : {};
      adapters.set(name, { r: low.a.shape[0]!, scale: low.scale, ...held });
    }
    return adapters;
  }

  /** The adapters of layers [from, to) the sessions are built for: "" where none has one. */
  private adapterKey(from: number, to: number): string {
    let key = "";
    for (let l = from; l < to; l++) {
      for (const [name, { r, scale, held }] of this.adaptersOf(l)) {
        // a held adapter by its identity: another one of the same rank needs sessions of its own
        key += `${l}${name}${r}x${scale}${held ? `h${heldId(held.a)}` : ""},`;
      }
    }
    return key;
  }

  private stagesFor(rows: number): Stage[] {
    const layers = this.model.config.layers;
    // adapters set, removed or replaced since the sessions were built: build them again
    const adapters = this.adapterKey(0, layers);
    if (adapters !== this.builtFor) {
      for (const st of this.stages ?? []) st.graph.dispose();
      this.stages = undefined;
      this.f32Stages.clear();
      this.builtFor = adapters;
    }
    if (this.kind === "f32" && !this.heldFile) {
      const span = rows <= STACK_MAX_ROWS ? layers : 1;
      let stages = this.f32Stages.get(span);
      if (!stages) {
        const g = this.shape();
        stages = Array.from({ length: layers / span }, (_, i) => {
          const [from, to] = [i * span, (i + 1) * span];
          const key = `${JSON.stringify(g)}:${span}:${this.adapterKey(from, to)}`;
          let graph = sharedF32.get(key);
          if (!graph) {
            const specs = Array.from({ length: span }, (_, j) => layerSpec(g, null, this.adaptersOf(from + j)));
            const name = `llama-layers-f32-${span}`;
            graph = ortGraph(encodeOnnxModel(stackSpec(g, specs)), name, { arena: true, boundCopies: true });
            sharedF32.set(key, graph);
          }
          return { from, to, graph };
        });
        this.f32Stages.set(span, stages);
      }
      return stages;
    }
    if (!this.stages) withModelScratch(() => this.buildAll());
    return this.stages!;
  }

  /**
   * Every layer's session, one after another (at the first pass), then the output head's kernel: each
   * model is encoded into one reused scratch buffer, its weights converted straight from their GGUF
   * blocks into a temporary file (nbits.ts toNBits, ort.ts ortGraphOfEncoded) or, f32, left in the
   * model file, for onnxruntime to map, and its layers' bytes are dropped as soon as onnxruntime holds
   * them prepacked. No copy of a layer is left for the collector between two sessions, and onnxruntime
   * makes no heap copy of its own (SmolLM-135M Q8_0, bench child: RSS after the first token ~505 →
   * ~345 MB with the weights encoded into the models, ~310 read from the file).
   */
  private buildAll(): void {
    const g = this.shape();
    const layers = this.model.weights.layers;
    const stages: Stage[] = [];
    const held = this.heldFile !== null;
    // onnxruntime reads held f32 weights from the file: it must still be the one they were loaded from
    if (held) for (const layer of layers) for (const n of LINEARS) fileRange(layer[n].weight as Tensor)!.verify();
    for (let from = 0; from < layers.length;) {
      let to = from + 1;
      // quantized: at least stageMinLayers layers a session where one layer outgrows stageBytes (1B models)
      const first = layerHeldBytes(layers[from]!);
      const limit = held ? F32_STAGE_BYTES : Math.max(stageBytes, stageMinLayers * first);
      let bytes = first;
      while (to < layers.length && bytes + layerHeldBytes(layers[to]!) <= limit) bytes += layerHeldBytes(layers[to++]!);
      const span = layers.slice(from, to);
      const name = `llama-layers-${from}-${to - 1}`;
      // f32: onnxruntime reads the matrices from the model file itself, as llama.cpp maps them, and keeps
      // only its prepacked copy; quantized: their blocks from a temporary file (ortGraphOfEncoded). No
      // memory pattern: its one block per run is mapped and faulted in at every run where it is large
      // (TinyLlama-1.1B F32, 128-token chunks: 56–64 prompt tokens/s with it, 130 without; SmolLM-135M
      // the same either way), and for quantized weights it raised glibc's mmap threshold.
      const encode = (inits: (layer: LlamaLayer) => Map<string, OnnxInitializer[]>, place?: PlaceBytes): Uint8Array =>
        encodeOnnxModel(
          stackSpec(
            g,
            span.map((layer, i) => layerSpec(g, inits(layer), this.adaptersOf(from + i), place)),
          ),
          modelScratch,
        );
      const options = { memPattern: false, boundCopies: true };
      const graph = held
        ? ortGraph(
            encode((layer) => f32Initializers(layer, this.heldFile!)),
            name,
            {
              ...options,
              externalFolder: path.dirname(this.heldFile!),
            },
          )
        : ortGraphOfEncoded((place) => encode((layer) => nbitsInitializers(layer, place), place), name, options);
      stages.push({ from, to, graph });
      // onnxruntime holds the prepacked weights now; the file gives them back if a path reads them.
      for (const layer of span) {
        if (held) dropTensorValues(LINEARS.map((n) => layer[n].weight as Tensor));
        else for (const n of LINEARS) dropBytes(layer[n].weight as QuantTensor);
      }
      // and the adapters it holds (loadLora's: read again from their file where another path needs them)
      span.forEach((_, i) => {
        for (const { held: pair } of this.adaptersOf(from + i).values()) if (pair) dropTensorValues([pair.a, pair.b]);
      });
      from = to;
    }
    this.stages = stages;
    // The output head's kernel (a decode step's product) in the same sequence and scratch buffer.
    const { output } = this.model.weights;
    if (output.weight instanceof QuantTensor && !output.bias && !output.adapter) {
      // a head of another block type (Q6_K in Q4_K_M files) goes as the layers do: exact tiles per
      // step decoded the whole table each token
      if (this.kind === "nbits") requantizeAtEveryM(output.weight);
      prepareQmatmul(output.weight, 1);
    }
    if (held) this.holdHead();
  }

  /**
   * F32 layers held: the output head's matrix too, read from the file (holdF32Weight), and the
   * embedding table's values dropped: a lookup reads its rows from the file (Tensor.readRows), as a
   * quantized table's are.
   */
  private holdHead(): void {
    const { output, tokenEmbd } = this.model.weights;
    const w = output.weight;
    const range =
      w instanceof Tensor && w.reloadable && !w.requiresGrad && !output.bias && !output.adapter
        ? fileRange(w)
        : undefined;
    if (range && !heldF32Kernel(w)) {
      range.verify();
      // dropped first: onnxruntime maps the matrix from the file while it packs its own copy
      dropTensorValues([w as Tensor]);
      holdF32Weight(w, w.shape[0]!, w.shape[1]!, realpathSync(range.file), range.offset);
    }
    if (tokenEmbd instanceof Tensor) dropTensorValues([tokenEmbd]); // where it can be read back
  }

  /** The shape feeds of (B, T, S), reused while they stay the same. */
  private shapeFeeds(b: number, t: number, s: number): Record<string, OrtValue> {
    const key = `${b},${t},${s}`;
    if (this.dims?.key !== key) {
      const { heads, kvHeads: hkv, headDim: d } = this.model.config;
      const group = heads / hkv;
      const v = (...xs: number[]): OrtValue => ({ data: i64(...xs), dims: [xs.length] });
      this.dims = {
        key,
        feeds: {
          s_q5: v(b, t, hkv, group, d),
          s_qg: v(b, hkv, group * t, d),
          s_k4: v(b, t, hkv, d),
          s_o5: v(b, hkv, group, t, d),
          split: v(s, t),
          // each row's RoPE angles are its own row of the cos/sin feeds
          pos: { data: BigInt64Array.from({ length: b * t }, (_, i) => BigInt(i)), dims: [1, b * t] },
        },
      };
    }
    return this.dims.feeds;
  }

  /** Layer l's own feeds (caches, norms, fed f32 weights), each name prefixed with `p`. */
  private layerFeeds(l: number, io: LayersIo, b: number, s: number, p: string, feeds: Record<string, OrtValue>): void {
    const { dim: c, kvHeads, headDim: d } = this.model.config;
    const layer = this.model.weights.layers[l]!;
    feeds[`${p}K_cache`] = { data: io.kCache[l]!, dims: [b, kvHeads, s, d] };
    feeds[`${p}V_cache`] = { data: io.vCache[l]!, dims: [b, kvHeads, s, d] };
    feeds[`${p}attn_norm`] = { data: layer.attnNorm.data, dims: [c] };
    feeds[`${p}ffn_norm`] = { data: layer.ffnNorm.data, dims: [c] };
    if (this.kind === "f32" && this.stacks) {
      GROUPS.forEach((names, i) => {
        const w = this.stacks![l]![i]!;
        const k = layer[names[0]!].inFeatures;
        feeds[`${p}W_${names.join("_")}`] = { data: w, dims: [w.length / k, k] };
      });
    } else if (this.kind === "f32" && !this.heldFile) {
      for (const name of LINEARS) {
        const w = layer[name].weight as Tensor;
        feeds[`${p}W_${name}`] = { data: w.data, dims: [w.shape[0]!, w.shape[1]!] };
      }
    }
    for (const name of LINEARS) {
      const low = layer[name].adapter?.lowRank?.();
      if (!low || this.holdsAdapter(low)) continue;
      feeds[`${p}lora_a_${name}`] = { data: low.a.data, dims: [low.a.shape[0]!, low.a.shape[1]!] };
      feeds[`${p}lora_b_${name}`] = { data: low.b.data, dims: [low.b.shape[0]!, low.b.shape[1]!] };
    }
  }

  /**
   * Runs every layer on B sequences of T new tokens each; caches hold S positions per sequence. The
   * result ends in io.y; io.store receives each layer's new keys and values after its run.
   */
  run(io: LayersIo, b: number, t: number, s: number): void {
    const { dim: c, kvHeads, headDim: d } = this.model.config;
    const n = b * t;
    const stages = this.stagesFor(n);
    const kv = b * kvHeads * t * d;
    const span = Math.max(...stages.map((st) => st.to - st.from));
    if (this.newKv.k.length < span * kv)
      this.newKv = { k: new Float32Array(span * kv), v: new Float32Array(span * kv) };
    const common: Record<string, OrtValue> = {
      ...this.shapeFeeds(b, t, s),
      M_cache: { data: io.maskCache, dims: [b, 1, 1, s] },
      M_new: { data: io.maskNew, dims: [io.maskNew.length / t, t] },
      cos: { data: io.cos, dims: [n, d / 2] },
      sin: { data: io.sin, dims: [n, d / 2] },
    };
    // stage i reads src and writes dst; an even count of stages starts writing x so the last writes y
    let [src, dst] = stages.length % 2 === 1 ? [io.x, io.y] : [io.y, io.x];
    if (stages.length % 2 === 0) io.y.set(io.x.subarray(0, n * c));
    for (const { from, to, graph } of stages) {
      const feeds: Record<string, OrtValue> = { ...common, X: { data: src, dims: [n, c] } };
      const into: Record<string, OrtValue> = { Y: { data: dst, dims: [n, c] } };
      const kNew: Float32Array[] = [];
      const vNew: Float32Array[] = [];
      for (let l = from; l < to; l++) {
        const i = l - from;
        this.layerFeeds(l, io, b, s, `L${i}_`, feeds);
        kNew.push(this.newKv.k.subarray(i * kv, (i + 1) * kv));
        vNew.push(this.newKv.v.subarray(i * kv, (i + 1) * kv));
        into[`L${i}_K_new`] = { data: kNew[i]!, dims: [b, kvHeads, t, d] };
        into[`L${i}_V_new`] = { data: vNew[i]!, dims: [b, kvHeads, t, d] };
      }
      graph.run(feeds, into);
      for (let l = from; l < to; l++) io.store(l, kNew[l - from]!, vNew[l - from]!);
      [src, dst] = [dst, src];
    }
  }

  /** Frees the sessions that hold weights (and a held f32 head) now; the weights come back from the file. */
  dispose(): void {
    for (const st of this.stages ?? []) st.graph.dispose();
    this.stages = undefined;
    if (this.heldFile) heldF32Kernel(this.model.weights.output.weight)?.dispose();
  }
}
