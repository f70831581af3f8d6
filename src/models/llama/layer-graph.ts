// One onnxruntime graph per decoder layer for LlamaDecoder: RMSNorm, q/k/v, RoPE, grouped-query attention
// over the KV cache, o, SwiGLU MLP and both residual adds in a single native call, instead of ~13 calls
// and TypeScript loops per layer. F32 weights are fed (zero-copy views of the model's arrays, one shared
// session per shape); Q4_0/Q8_0 weights are MatMulNBits initializers (int8 activations, as llama.cpp),
// one session per layer (Q8_0 where the CPU has int8 dot products). Leaves out other storage types,
// biases and adapters: decode.ts's per-op path runs those.
// Shapes: T new tokens, P cached, S = P + T, C hidden, H heads, Hkv kv heads, G = H/Hkv, D head size, F ffn.
import { QuantTensor, Tensor, ortAvailable, ortGraph, type OrtGraph, type OrtValue } from "../../tensor/index.js";
import { encodeOnnxModel, type OnnxInitializer, type OnnxNode } from "../../tensor/kernels/onnx-model.js";
import { toNBits } from "../../tensor/quant/nbits.js";
import { q8Int8Rows } from "../../tensor/quant/qmatmul.js";
import type { Linear } from "../linear.js";
import type { LlamaModel } from "./model.js";
import type { LlamaLayer } from "./weights.js";

const LINEARS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
type LinearName = (typeof LINEARS)[number];

/** How the graphs of a model hold its weights; null when some layer needs decode.ts's general path. */
function weightKind(layers: LlamaLayer[]): "f32" | "nbits" | null {
  let kind: "f32" | "nbits" | null = null;
  for (const layer of layers) {
    for (const name of LINEARS) {
      const lin: Linear = layer[name];
      if (lin.bias || lin.adapter) return null;
      const w = lin.weight;
      // Q8_0 at every T only where int8 wins at every M (qmatmul.ts's q8Int8Rows); else per-op tiles.
      const q8 = w instanceof QuantTensor && w.type === "q8_0" && q8Int8Rows() === Infinity;
      const k = w instanceof Tensor ? "f32" : w.type === "q4_0" || q8 ? "nbits" : null;
      if (!k || (kind && kind !== k)) return null;
      kind = k;
    }
  }
  return kind;
}

interface GraphShape {
  c: number;
  heads: number;
  kvHeads: number;
  d: number;
  ffn: number;
  eps: number;
  scale: number;
  interleaved: boolean;
}

const i64 = (...xs: number[]): BigInt64Array => BigInt64Array.from(xs.map(BigInt));

/** The layer graph; `quant` names the MatMulNBits initializers per linear (absent: fed f32 weights). */
function layerModel(g: GraphShape, quant: Map<LinearName, OnnxInitializer[]> | null): Uint8Array {
  const { c, heads, kvHeads, d, ffn, eps, interleaved } = g;
  const group = heads / kvHeads;
  const nodes: OnnxNode[] = [];
  const node = (op: string, inputs: string[], output: string, attributes: OnnxNode["attributes"] = []): string => {
    nodes.push({ op, inputs, outputs: [output], attributes });
    return output;
  };
  const consts: OnnxInitializer[] = [
    { name: "eps", dims: [1], data: Float32Array.of(eps) },
    { name: "scale", dims: [1], data: Float32Array.of(g.scale) },
    { name: "zero", dims: [1], data: i64(0) },
    { name: "axis1", dims: [1], data: i64(1) },
    { name: "halves", dims: [2], data: i64(interleaved ? 1 : d / 2, interleaved ? 1 : d / 2) },
  ];
  const shape = (name: string, ...dims: number[]): string => {
    consts.push({ name, dims: [dims.length], data: i64(...dims) });
    return name;
  };
  const weightInputs: string[] = [];
  const linear = (name: LinearName, x: string, n: number, k: number): string => {
    const inits = quant?.get(name);
    if (!inits) {
      weightInputs.push(`W_${name}`);
      return node("Gemm", [x, `W_${name}`], `y_${name}`, [{ name: "transB", int: 1 }]);
    }
    const bits = inits[0]!.dims[2] === 32 ? 8 : 4;
    nodes.push({
      op: "MatMulNBits",
      domain: "com.microsoft",
      inputs: [x, inits[0]!.name, inits[1]!.name],
      outputs: [`y_${name}`],
      attributes: [
        { name: "K", int: k },
        { name: "N", int: n },
        { name: "bits", int: bits },
        { name: "block_size", int: 32 },
        { name: "accuracy_level", int: 4 },
      ],
    });
    return `y_${name}`;
  };
  const rms = (x: string, w: string, tag: string): string => {
    const ms = node("ReduceMean", [node("Mul", [x, x], `${tag}_sq`)], `${tag}_ms`, [{ name: "axes", ints: [-1] }]);
    const r = node("Sqrt", [node("Add", [ms, "eps"], `${tag}_mse`)], `${tag}_r`);
    return node("Mul", [node("Div", [x, r], `${tag}_n`), w], tag);
  };
  /** Rotates x (T, n, D) by cos/sin (T, 1, D/2) [(T, 1, D/2, 1) interleaved]. */
  const rope = (x: string, n: number, tag: string): string => {
    const src = interleaved ? node("Reshape", [x, shape(`${tag}_s4`, 0, n, d / 2, 2)], `${tag}_4`) : x;
    const axis = [{ name: "axis", int: -1 }];
    nodes.push({ op: "Split", inputs: [src, "halves"], outputs: [`${tag}_a`, `${tag}_b`], attributes: axis });
    const [a, b] = [`${tag}_a`, `${tag}_b`];
    const lo = node("Sub", [node("Mul", [a, "cos"], `${tag}_ac`), node("Mul", [b, "sin"], `${tag}_bs`)], `${tag}_lo`);
    const hi = node("Add", [node("Mul", [a, "sin"], `${tag}_as`), node("Mul", [b, "cos"], `${tag}_bc`)], `${tag}_hi`);
    const out = node("Concat", [lo, hi], `${tag}_r`, axis);
    return interleaved ? node("Reshape", [out, shape(`${tag}_s3`, 0, n, d)], `${tag}_rot`) : out;
  };

  const h1 = rms("X", "attn_norm", "h1");
  const q = rope(node("Reshape", [linear("q", h1, heads * d, c), shape("s_q", 0, heads, d)], "q3"), heads, "rq");
  const k = rope(node("Reshape", [linear("k", h1, kvHeads * d, c), shape("s_k", 0, kvHeads, d)], "k3"), kvHeads, "rk");
  const v = node("Reshape", [linear("v", h1, kvHeads * d, c), shape("s_v", 0, kvHeads, d)], "v3");
  const perm = (ints: number[]) => [{ name: "perm", ints }];
  node("Transpose", [k], "K_new", perm([1, 0, 2])); // (Hkv, T, D)
  node("Transpose", [v], "V_new", perm([1, 0, 2]));
  const keys = node("Concat", [node("Slice", ["K_cache", "zero", "P", "axis1"], "k_past"), "K_new"], "k_all", [
    { name: "axis", int: 1 },
  ]); // (Hkv, S, D)
  const values = node("Concat", [node("Slice", ["V_cache", "zero", "P", "axis1"], "v_past"), "V_new"], "v_all", [
    { name: "axis", int: 1 },
  ]);
  const qg = node(
    "Reshape",
    [
      node("Transpose", [node("Reshape", [q, shape("s_qg", 0, kvHeads, group, d)], "q4")], "q4t", perm([1, 2, 0, 3])),
      shape("s_qr", kvHeads, -1, d),
    ],
    "qg",
  ); // (Hkv, G·T, D): row gi·T + i
  const kt = node("Transpose", [keys], "k_t", perm([0, 2, 1]));
  const scores = node("Add", [node("Mul", [node("MatMul", [qg, kt], "s0"), "scale"], "s1"), "M"], "s2"); // (Hkv, G·T, S)
  const p = node("Softmax", [scores], "p", [{ name: "axis", int: -1 }]);
  const og = node("MatMul", [p, values], "og"); // (Hkv, G·T, D)
  const o4 = node("Reshape", [og, shape("s_o4", kvHeads, group, -1, d)], "o4");
  const att = node(
    "Reshape",
    [node("Transpose", [o4], "o4t", perm([2, 0, 1, 3])), shape("s_att", -1, heads * d)],
    "att",
  );
  const x1 = node("Add", ["X", linear("o", att, c, heads * d)], "x1");
  const h2 = rms(x1, "ffn_norm", "h2");
  const gate = linear("gate", h2, ffn, c);
  const act = node(
    "Mul",
    [node("Mul", [gate, node("Sigmoid", [gate], "sg")], "silu"), linear("up", h2, ffn, c)],
    "act",
  );
  node("Add", [x1, linear("down", act, c, ffn)], "Y");

  const f = (name: string, dims: (number | string)[]) => ({ name, type: "float" as const, dims });
  const ropeDims = interleaved ? ["t", 1, d / 2, 1] : ["t", 1, d / 2];
  return encodeOnnxModel({
    opset: 17,
    extraOpsets: { "com.microsoft": 1 },
    inputs: [
      f("X", ["t", c]),
      f("K_cache", [kvHeads, "cap", d]),
      f("V_cache", [kvHeads, "cap", d]),
      { name: "P", type: "int64", dims: [1] },
      f("cos", ropeDims),
      f("sin", ropeDims),
      f("attn_norm", [c]),
      f("ffn_norm", [c]),
      f("M", ["gt", "s"]),
      ...weightInputs.map((name) => f(name, [`${name}_n`, `${name}_k`])), // own dim names: shapes differ
    ],
    outputs: [f("Y", ["t", c]), f("K_new", [kvHeads, "t", d]), f("V_new", [kvHeads, "t", d])],
    nodes,
    initializers: [...consts, ...[...(quant?.values() ?? [])].flat()],
  });
}

/** F32 graphs hold no weights, so one session serves every layer of every model of a shape. */
const sharedF32 = new Map<string, OrtGraph>();

const byModel = new WeakMap<LlamaModel, LayerGraphs>();

/** The layer graphs of one model, built on first use (quantized: once per layer and variant). */
export class LayerGraphs {
  private readonly perLayer = new Map<number, OrtGraph>();

  private constructor(
    private readonly model: LlamaModel,
    private readonly kind: "f32" | "nbits",
  ) {}

  /**
   * The graphs of `model` (one set per model, shared by its decoders), or null where they do not apply:
   * no onnxruntime, other storage types, biases, adapters, or INFUSE_LAYER_GRAPHS=0.
   */
  static for(model: LlamaModel): LayerGraphs | null {
    if (!ortAvailable() || process.env["INFUSE_LAYER_GRAPHS"] === "0") return null;
    const kind = weightKind(model.weights.layers); // adapters can be set after loading: checked each time
    if (!kind) return null;
    let graphs = byModel.get(model);
    if (!graphs) byModel.set(model, (graphs = new LayerGraphs(model, kind)));
    return graphs;
  }

  private shape(): GraphShape {
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
    };
  }

  private graph(l: number): OrtGraph {
    const g = this.shape();
    if (this.kind === "f32") {
      const key = JSON.stringify(g);
      let s = sharedF32.get(key);
      if (!s) sharedF32.set(key, (s = ortGraph(layerModel(g, null), "llama-layer", { arena: true })));
      return s;
    }
    let s = this.perLayer.get(l);
    if (!s) {
      s = ortGraph(layerModel(g, this.initializers(l)), `llama-layer-${l}`);
      this.perLayer.set(l, s);
      // onnxruntime holds the (prepacked) weights now; the file gives the bytes back if a path reads them.
      for (const name of LINEARS) (this.model.weights.layers[l]![name].weight as QuantTensor).releaseBytes();
    }
    return s;
  }

  /** MatMulNBits initializers of layer l's weights (repacked; garbage once the session holds them). */
  private initializers(l: number): Map<LinearName, OnnxInitializer[]> {
    const inits = new Map<LinearName, OnnxInitializer[]>();
    const layer = this.model.weights.layers[l]!;
    for (const name of LINEARS) {
      const form = toNBits(layer[name].weight as QuantTensor)!;
      inits.set(name, [
        { name: `B_${name}`, dims: [form.n, form.k / 32, (32 * form.bits) / 8], data: form.packed },
        { name: `S_${name}`, dims: [form.n * (form.k / 32)], data: form.scales },
      ]);
    }
    return inits;
  }

  /**
   * Runs layer l on x (T, C) at positions p0 … p0+T−1: writes the layer's output into y (T, C) and the
   * rotated keys and values into kNew, vNew (Hkv, T, D). `mask` (G·T, S) is additive (zeros when T = 1).
   */
  run(
    l: number,
    io: { x: Float32Array; y: Float32Array; kNew: Float32Array; vNew: Float32Array },
    cache: { k: Float32Array; v: Float32Array; capacity: number },
    rope: { cos: Float32Array; sin: Float32Array },
    t: number,
    p0: number,
    mask: Float32Array,
  ): void {
    const { dim: c, kvHeads, headDim: d } = this.model.config;
    const layer = this.model.weights.layers[l]!;
    const ropeDims = this.model.config.ropeLayout === "interleaved" ? [t, 1, d / 2, 1] : [t, 1, d / 2];
    const feeds: Record<string, OrtValue> = {
      X: { data: io.x, dims: [t, c] },
      K_cache: { data: cache.k, dims: [kvHeads, cache.capacity, d] },
      V_cache: { data: cache.v, dims: [kvHeads, cache.capacity, d] },
      P: { data: BigInt64Array.of(BigInt(p0)), dims: [1] },
      cos: { data: rope.cos, dims: ropeDims },
      sin: { data: rope.sin, dims: ropeDims },
      attn_norm: { data: layer.attnNorm.data, dims: [c] },
      ffn_norm: { data: layer.ffnNorm.data, dims: [c] },
      M: { data: mask, dims: [mask.length / (p0 + t), p0 + t] },
    };
    if (this.kind === "f32") {
      for (const name of LINEARS) {
        const w = layer[name].weight as Tensor;
        feeds[`W_${name}`] = { data: w.data, dims: [w.shape[0]!, w.shape[1]!] };
      }
    }
    this.graph(l).run(feeds, {
      Y: { data: io.y, dims: [t, c] },
      K_new: { data: io.kNew, dims: [kvHeads, t, d] },
      V_new: { data: io.vNew, dims: [kvHeads, t, d] },
    });
  }

  /** Frees the per-layer sessions (quantized weights) now. */
  dispose(): void {
    for (const s of this.perLayer.values()) s.dispose();
    this.perLayer.clear();
  }
}
