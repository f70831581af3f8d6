// A Llama decoder block as onnxruntime graphs for gradient checkpointing: the forward that keeps no
// graph, and the backward that recomputes the block, each one native call. Inside: RMSNorm, the seven
// projections with their LoRA updates (dropout masks drawn as the adapters draw them), RoPE, grouped-query
// attention, the residual adds and SwiGLU, and in backward their gradients. The op-by-op block
// (model.block) makes ~12 calls each way, runs RoPE and the adds in TypeScript, and hands out ~2 M values
// of outputs per pass that onnxruntime-node copies into fresh (garbage) arrays; here only the block's
// output, or x's and the adapters' gradients, leave the graph. Equal to the op-by-op block to f32
// rounding (test/train/fused-block.test.ts); blocks the graph leaves out (biases, other adapters, trained
// base weights) still run op by op.
// Shapes: N = B·T rows, C hidden, H heads, Hkv kv heads, G = H/Hkv, D head size, F ffn, r rank.
import type { LlamaModel } from "../models/llama/model.js";
import type { LlamaLayer } from "../models/llama/weights.js";
import type { Linear } from "../models/linear.js";
import { LoraAdapter } from "../models/lora/adapter.js";
import {
  alloc,
  isGradEnabled,
  ortAvailable,
  ortGraph,
  QuantTensor,
  type OrtGraph,
  Tensor,
  type OrtValue,
  type Rng,
} from "../tensor/index.js";
import { encodeOnnxModel, type OnnxNode, type OnnxValueInfo } from "../tensor/kernels/onnx-model.js";
import { attentionMaskArrays } from "../tensor/ops/attention.js";
import { dequantizedAll } from "../tensor/quant/qmatmul-train.js";

const LINEARS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
type LinearName = (typeof LINEARS)[number];

/** How one projection runs in the graph: plain, with a LoRA update, and that update's input masked. */
type LinearKind = "plain" | "lora" | "lora-mask";

interface BlockShape {
  c: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  interleaved: boolean;
  /** Some query row has every key hidden (padding): the probabilities are multiplied by rowKeep. */
  rowKeep: boolean;
  kinds: Record<LinearName, LinearKind>;
}

const f32 = (name: string, dims: (string | number)[]): OnnxValueInfo => ({ name, type: "float", dims });
const node = (op: string, inputs: string[], out: string, attributes: OnnxNode["attributes"] = []): OnnxNode => ({
  op,
  inputs,
  outputs: [out],
  attributes,
});
const gemmT = (a: string, b: string, out: string, c?: string): OnnxNode =>
  node("Gemm", c ? [a, b, c] : [a, b], out, [{ name: "transB", int: 1 }]);

/** out = x·Wᵀ [+ s·((x⊙M)·Aᵀ)·Bᵀ], as lowRankLinear's forward graph computes it. */
function linearNodes(name: LinearName, kind: LinearKind, x: string, out: string): OnnxNode[] {
  if (kind === "plain") return [gemmT(x, `W_${name}`, out)];
  const xa = kind === "lora-mask" ? `${name}_xa` : x;
  return [
    gemmT(x, `W_${name}`, `${name}_y0`),
    ...(kind === "lora-mask" ? [node("Mul", [x, `M_${name}`], xa)] : []),
    gemmT(xa, `A_${name}`, `${name}_h`),
    node("Mul", [`${name}_h`, `S_${name}`], `${name}_hs`),
    gemmT(`${name}_hs`, `B_${name}`, out, `${name}_y0`),
  ];
}

/** y = x / √(mean(x²) + eps) · w, as norm-ort's forward graph computes it. */
function rmsNormNodes(x: string, w: string, out: string): OnnxNode[] {
  const p = `${out}_`;
  return [
    node("Mul", [x, x], `${p}xx`),
    node("ReduceMean", [`${p}xx`], `${p}ms`, [
      { name: "axes", ints: [-1] },
      { name: "keepdims", int: 1 },
    ]),
    node("Add", [`${p}ms`, "E"], `${p}v`),
    node("Sqrt", [`${p}v`], `${p}sd`),
    node("Reciprocal", [`${p}sd`], `${p}r`),
    node("Mul", [x, `${p}r`], `${p}xh`),
    node("Mul", [`${p}xh`, w], out),
  ];
}

/**
 * Rotates x (N, heads·D) by the per-row angles COS/SIN (N, 1, D/2 as pairs): pairs (2i, 2i+1) when
 * interleaved, (i, i + D/2) otherwise, as ops/rope.ts does. `inverse` rotates by −θ: the rotation's
 * transpose, which is rope's backward.
 */
function ropeNodes(x: string, heads: number, interleaved: boolean, out: string, inverse = false): OnnxNode[] {
  const p = `${out}_`;
  const axis = interleaved ? -1 : -2;
  return [
    node("Reshape", [x, `shape_rope_${heads}`], `${p}r`),
    { op: "Split", inputs: [`${p}r`], outputs: [`${p}a`, `${p}b`], attributes: [{ name: "axis", int: axis }] },
    node("Mul", [`${p}a`, "COS"], `${p}ac`),
    node("Mul", [`${p}b`, "SIN"], `${p}bs`),
    node(inverse ? "Add" : "Sub", [`${p}ac`, `${p}bs`], `${p}0`), // a·cos ∓ b·sin
    node("Mul", [`${p}a`, "SIN"], `${p}as`),
    node("Mul", [`${p}b`, "COS"], `${p}bc`),
    inverse ? node("Sub", [`${p}bc`, `${p}as`], `${p}1`) : node("Add", [`${p}as`, `${p}bc`], `${p}1`), // b·cos ± a·sin
    node("Concat", [`${p}0`, `${p}1`], `${p}c`, [{ name: "axis", int: axis }]),
    node("Reshape", [`${p}c`, `shape_rows_${heads}`], out),
  ];
}

/**
 * The block's forward graph (output Y), or with `backward` its forward and backward (upstream gradient
 * G in; DX and each LoRA projection's DA_·, DB_· out): the checkpoint's recomputation and backward in
 * one call, nothing but the gradients leaving the graph.
 */
function blockGraph(s: BlockShape, backward: boolean): Uint8Array {
  const { c, heads, kvHeads, headDim: d, interleaved } = s;
  const ropeShape = (h: number) => (interleaved ? [-1, h, d / 2, 2] : [-1, h, 2, d / 2]);
  const i64 = (name: string, v: number[]) => ({ name, dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
  const inputs: OnnxValueInfo[] = [
    f32("X", ["n", c]),
    f32("N1", [c]),
    f32("N2", [c]),
    f32("E", [1]),
    f32("COS", interleaved ? ["n", 1, d / 2, 1] : ["n", 1, 1, d / 2]),
    f32("SIN", interleaved ? ["n", 1, d / 2, 1] : ["n", 1, 1, d / 2]),
    f32("M", ["mb", 1, 1, "t", "t"]),
    ...(s.rowKeep ? [f32("R", ["mb", 1, 1, "t", 1])] : []),
    f32("scale", [1]),
    { name: "SQ", type: "int64", dims: [5] },
    { name: "SK", type: "int64", dims: [5] },
    ...(backward ? [f32("G", ["n", c])] : []),
  ];
  for (const name of LINEARS) {
    inputs.push(f32(`W_${name}`, [`n_${name}`, `k_${name}`]));
    if (s.kinds[name] === "plain") continue;
    inputs.push(f32(`A_${name}`, [`r_${name}`, `k_${name}`]), f32(`B_${name}`, [`n_${name}`, `r_${name}`]));
    inputs.push(f32(`S_${name}`, [1]));
    if (s.kinds[name] === "lora-mask") inputs.push(f32(`M_${name}`, ["n", `k_${name}`]));
  }
  const nodes: OnnxNode[] = [
    ...rmsNormNodes("X", "N1", "h1"),
    ...linearNodes("q", s.kinds.q, "h1", "q"),
    ...linearNodes("k", s.kinds.k, "h1", "k"),
    ...linearNodes("v", s.kinds.v, "h1", "v"),
    ...ropeNodes("q", heads, interleaved, "qr"),
    ...ropeNodes("k", kvHeads, interleaved, "kr"),
    // attention as attention-ort's forward graph: (B, T, Hkv, G, D) → (B, Hkv, G, T, D)
    node("Reshape", ["qr", "SQ"], "q5"),
    node("Transpose", ["q5"], "qi", [{ name: "perm", ints: [0, 2, 3, 1, 4] }]),
    node("Mul", ["qi", "scale"], "qs"),
    node("Reshape", ["kr", "SK"], "k5"),
    node("Transpose", ["k5"], "kt", [{ name: "perm", ints: [0, 2, 3, 4, 1] }]),
    node("Reshape", ["v", "SK"], "v5"),
    node("Transpose", ["v5"], "vi", [{ name: "perm", ints: [0, 2, 3, 1, 4] }]),
    node("MatMul", ["qs", "kt"], "s0"),
    node("Add", ["s0", "M"], "s1"),
    node("Softmax", ["s1"], s.rowKeep ? "p0" : "p", [{ name: "axis", int: -1 }]),
    ...(s.rowKeep ? [node("Mul", ["p0", "R"], "p")] : []),
    node("MatMul", ["p", "vi"], "ai"),
    node("Transpose", ["ai"], "a5", [{ name: "perm", ints: [0, 3, 1, 2, 4] }]),
    node("Reshape", ["a5", `shape_rows_${heads}`], "a"),
    ...linearNodes("o", s.kinds.o, "a", "o"),
    node("Add", ["X", "o"], "x1"),
    ...rmsNormNodes("x1", "N2", "h2"),
    ...linearNodes("gate", s.kinds.gate, "h2", "g"),
    ...linearNodes("up", s.kinds.up, "h2", "u"),
    node("Sigmoid", ["g"], "gs"),
    node("Mul", ["g", "gs"], "ga"),
    node("Mul", ["ga", "u"], "act"),
    ...linearNodes("down", s.kinds.down, "act", "dn"),
    node("Add", ["x1", "dn"], "Y"),
  ];
  const shapes = [heads, kvHeads].flatMap((h) => [
    i64(`shape_rope_${h}`, ropeShape(h)),
    i64(`shape_rows_${h}`, [-1, h * d]),
  ]);
  const unique = shapes.filter((x, i) => shapes.findIndex((y) => y.name === x.name) === i);
  const lora = LINEARS.filter((name) => s.kinds[name] !== "plain");
  const outputs = backward
    ? [
        f32("DX", ["n", c]),
        ...lora.flatMap((name) => [
          f32(`DA_${name}`, [`r_${name}`, `k_${name}`]),
          f32(`DB_${name}`, [`n_${name}`, `r_${name}`]),
        ]),
      ]
    : [f32("Y", ["n", c])];
  if (backward) nodes.push(...backwardNodes(s));
  const initializers = [
    ...unique,
    ...(backward ? [i64("axisG", [2]), i64("axisS", [-1]), { name: "one", dims: [1], data: Float32Array.of(1) }] : []),
  ];
  return encodeOnnxModel({ opset: 17, inputs, outputs, initializers, nodes });
}

/**
 * A projection's gradients from its output's gradient `g`: `${name}_dx` (its input's), and for a LoRA
 * projection DA_·, DB_· as lora-ort's backward graph computes them.
 */
function linearBackwardNodes(name: LinearName, kind: LinearKind, x: string, g: string): OnnxNode[] {
  const dx = `${name}_dx`;
  if (kind === "plain") return [node("MatMul", [g, `W_${name}`], dx)];
  const p = `${name}_b_`;
  const xa = kind === "lora-mask" ? `${name}_xa` : x;
  return [
    node("MatMul", [g, `B_${name}`], `${p}gb`),
    node("Mul", [`${p}gb`, `S_${name}`], `${p}dh`),
    node("Gemm", [`${p}dh`, xa], `DA_${name}`, [{ name: "transA", int: 1 }]),
    node("Gemm", [g, `${name}_hs`], `DB_${name}`, [{ name: "transA", int: 1 }]),
    node("MatMul", [g, `W_${name}`], `${p}dx0`),
    node("MatMul", [`${p}dh`, `A_${name}`], kind === "lora-mask" ? `${p}dxa0` : `${p}dxa`),
    ...(kind === "lora-mask" ? [node("Mul", [`${p}dxa0`, `M_${name}`], `${p}dxa`)] : []),
    node("Add", [`${p}dx0`, `${p}dxa`], dx),
  ];
}

/** dX of y = rmsNorm(x)·w from dY (`out`'s forward intermediates: out_xh, out_r), as norm-ort's backward. */
function rmsNormBackwardNodes(out: string, w: string, g: string, dx: string): OnnxNode[] {
  const p = `${out}_b_`;
  return [
    node("Mul", [g, w], `${p}gw`),
    node("Mul", [`${p}gw`, `${out}_xh`], `${p}p`),
    node("ReduceMean", [`${p}p`], `${p}d`, [
      { name: "axes", ints: [-1] },
      { name: "keepdims", int: 1 },
    ]),
    node("Mul", [`${out}_xh`, `${p}d`], `${p}t`),
    node("Sub", [`${p}gw`, `${p}t`], `${p}u`),
    node("Mul", [`${p}u`, `${out}_r`], dx),
  ];
}

/** Backward from G through the forward's intermediates (names of blockGraph's forward nodes). */
function backwardNodes(s: BlockShape): OnnxNode[] {
  const { heads, kvHeads, interleaved, kinds } = s;
  const tr = (from: string, to: string, perm: number[]) =>
    node("Transpose", [from], to, [{ name: "perm", ints: perm }]);
  const sumGroups = (from: string, to: string) =>
    node("ReduceSum", [from, "axisG"], to, [{ name: "keepdims", int: 1 }]);
  return [
    // Y = x1 + down(act): FFN
    ...linearBackwardNodes("down", kinds.down, "act", "G"),
    node("Mul", ["down_dx", "ga"], "d_u"),
    node("Mul", ["down_dx", "u"], "d_ga"),
    // d(g·σ(g))/dg = σ·(1 + g·(1 − σ))
    node("Sub", ["one", "gs"], "gs1"),
    node("Mul", ["g", "gs1"], "ggs1"),
    node("Add", ["one", "ggs1"], "dsil0"),
    node("Mul", ["gs", "dsil0"], "dsil"),
    node("Mul", ["d_ga", "dsil"], "d_g"),
    ...linearBackwardNodes("gate", kinds.gate, "h2", "d_g"),
    ...linearBackwardNodes("up", kinds.up, "h2", "d_u"),
    node("Add", ["gate_dx", "up_dx"], "d_h2"),
    ...rmsNormBackwardNodes("h2", "N2", "d_h2", "d_x1n"),
    node("Add", ["G", "d_x1n"], "d_x1"),
    // x1 = X + o(attention)
    ...linearBackwardNodes("o", kinds.o, "a", "d_x1"),
    node("Reshape", ["o_dx", "SQ"], "d_a5"),
    tr("d_a5", "d_ai", [0, 2, 3, 1, 4]),
    tr("vi", "vt", [0, 1, 2, 4, 3]),
    node("MatMul", ["d_ai", "vt"], "d_p"),
    node("Mul", ["p", "d_p"], "pdp"),
    node("ReduceSum", ["pdp", "axisS"], "rs", [{ name: "keepdims", int: 1 }]),
    node("Sub", ["d_p", "rs"], "ds0"),
    node("Mul", ["p", "ds0"], "ds"),
    tr("kt", "ki", [0, 1, 2, 4, 3]),
    node("MatMul", ["ds", "ki"], "d_qs"),
    node("Mul", ["d_qs", "scale"], "d_qi"),
    tr("d_qi", "d_q5", [0, 3, 1, 2, 4]),
    node("Reshape", ["d_q5", `shape_rows_${heads}`], "d_qr"),
    tr("qs", "qst", [0, 1, 2, 4, 3]),
    node("MatMul", ["qst", "ds"], "d_ktg"),
    sumGroups("d_ktg", "d_kt"),
    tr("d_kt", "d_k5", [0, 4, 1, 2, 3]),
    node("Reshape", ["d_k5", `shape_rows_${kvHeads}`], "d_kr"),
    tr("d_ai", "d_at", [0, 1, 2, 4, 3]),
    node("MatMul", ["d_at", "p"], "d_vtg"),
    sumGroups("d_vtg", "d_vt"),
    tr("d_vt", "d_v5", [0, 4, 1, 2, 3]),
    node("Reshape", ["d_v5", `shape_rows_${kvHeads}`], "d_v"),
    ...ropeNodes("d_qr", heads, interleaved, "d_q", true),
    ...ropeNodes("d_kr", kvHeads, interleaved, "d_k", true),
    ...linearBackwardNodes("q", kinds.q, "h1", "d_q"),
    ...linearBackwardNodes("k", kinds.k, "h1", "d_k"),
    ...linearBackwardNodes("v", kinds.v, "h1", "d_v"),
    node("Add", ["q_dx", "k_dx"], "d_h1a"),
    node("Add", ["d_h1a", "v_dx"], "d_h1"),
    ...rmsNormBackwardNodes("h1", "N1", "d_h1", "d_xn"),
    node("Add", ["d_x1", "d_xn"], "DX"),
  ];
}

/**
 * The block graphs' sessions by shape, forward and backward apart. Each keeps its intermediates in its
 * own memory arena from run to run: through malloc and free, glibc kept the freed megabytes of a
 * backward run's ~30 MB of intermediates (SmolLM-135M QLoRA peak RSS +60–130 MB, measured).
 */
const sessions = new Map<string, OrtGraph>();

function blockSession(key: string, shape: BlockShape, backward: boolean): OrtGraph {
  let s = sessions.get(key);
  if (!s) sessions.set(key, (s = ortGraph(blockGraph(shape, backward), key, { arena: true })));
  return s;
}

/** cos and sin of positions × invFreq per row (N, D/2), kept for the last positions array. */
let angleCache: {
  positions: Int32Array;
  rows: number;
  invFreq: Float32Array;
  cos: Float32Array;
  sin: Float32Array;
} | null = null;

function angles(positions: Int32Array, rows: number, invFreq: Float32Array) {
  const c = angleCache;
  if (c && c.rows === rows && c.invFreq === invFreq && sameValues(c.positions, positions)) return c;
  const half = invFreq.length;
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  for (let r = 0; r < rows; r++) {
    const pos = positions[r % positions.length]!; // T positions shared by the batch, or one per row
    for (let i = 0; i < half; i++) {
      const angle = pos * invFreq[i]!;
      cos[r * half + i] = Math.cos(angle);
      sin[r * half + i] = Math.sin(angle);
    }
  }
  angleCache = { positions: positions.slice(), rows, invFreq, cos, sin };
  return angleCache;
}

function sameValues(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The LoRA adapter of a projection, undefined for none; null when the layer has something else (bias, other adapter). */
function loraOf(lin: Linear): LoraAdapter | undefined | null {
  if (lin.bias) return null;
  if (!lin.adapter) return undefined;
  return lin.adapter instanceof LoraAdapter ? lin.adapter : null;
}

/** A block's feeds for its graph, the graph's shape and cache key; the dropout masks are drawn. */
interface Prepared {
  feeds: Record<string, OrtValue>;
  shape: BlockShape;
  key: string;
  loras: (LoraAdapter | undefined)[];
  n: number;
}

/**
 * The graph's feeds for `model.block(layer, x, positions, mask)`, drawing the LoRA dropout masks from
 * `rng` (the adapters' RNG) in the order the op-by-op block draws them; null (and nothing drawn) when
 * the block has what the graph leaves out: biases, adapters other than LoRA or whose weights are not
 * trained, trained base weights or norms, quantized weights that do not fit the dequantization cache
 * together, an odd head size, no onnxruntime.
 */
function prepare(
  model: LlamaModel,
  layer: LlamaLayer,
  x: Tensor,
  positions: Int32Array,
  mask: Tensor | undefined,
  rng: Rng,
): Prepared | null {
  const { heads, kvHeads, headDim: d, rmsEps, ropeLayout } = model.config;
  if (x.ndim !== 3 || d % 2 !== 0 || model.invFreq.length !== d / 2 || !ortAvailable()) return null;
  const [b, t, c] = x.shape as [number, number, number];
  const n = b * t;
  if (positions.length !== t && positions.length !== n) return null;
  if (layer.attnNorm.requiresGrad || layer.ffnNorm.requiresGrad) return null;
  const lins = LINEARS.map((name) => layer[name]);
  const found = lins.map(loraOf);
  if (found.includes(null) || lins.some((l) => l.weight instanceof Tensor && l.weight.requiresGrad)) return null;
  const loras = found as (LoraAdapter | undefined)[];
  if (loras.some((a) => a && !(a.a.requiresGrad && a.b.requiresGrad))) return null;
  const quant = lins.flatMap((l) => (l.weight instanceof QuantTensor ? [l.weight] : []));
  const decoded = quant.length > 0 ? dequantizedAll(quant) : [];
  if (!decoded) return null;
  const weightOf = (l: Linear): Float32Array =>
    l.weight instanceof QuantTensor ? decoded[quant.indexOf(l.weight)]! : l.weight.data;
  const m = attentionMaskArrays(mask, true, { batch: b, t, s: t });
  const rowKeep = !m.rowKeep.every((k) => k === 1);
  const kinds = {} as Record<LinearName, LinearKind>;
  const feeds: Record<string, OrtValue> = {};
  LINEARS.forEach((name, i) => {
    const lin = lins[i]!;
    const lora = loras[i];
    feeds[`W_${name}`] = { data: weightOf(lin), dims: [lin.outFeatures, lin.inFeatures] };
    if (!lora) {
      kinds[name] = "plain";
      return;
    }
    feeds[`A_${name}`] = { data: lora.a.data, dims: lora.a.shape };
    feeds[`B_${name}`] = { data: lora.b.data, dims: lora.b.shape };
    feeds[`S_${name}`] = { data: Float32Array.of(lora.scale), dims: [1] };
    const dropping = lora.training && lora.dropout > 0 && isGradEnabled();
    kinds[name] = dropping ? "lora-mask" : "lora";
    if (!dropping) return;
    // the adapter's draws (LoraAdapter.forwardWithBase): one value per element of the projection's input
    const dm = alloc(n * lin.inFeatures);
    rng.fillDropoutMask(dm, lora.dropout, 1 / (1 - lora.dropout));
    feeds[`M_${name}`] = { data: dm, dims: [n, lin.inFeatures] };
  });
  const { cos, sin } = angles(positions, n, model.invFreq);
  const interleaved = ropeLayout === "interleaved";
  const angleDims = interleaved ? [n, 1, d / 2, 1] : [n, 1, 1, d / 2];
  Object.assign(feeds, {
    X: { data: x.data, dims: [n, c] },
    N1: { data: layer.attnNorm.data, dims: [c] },
    N2: { data: layer.ffnNorm.data, dims: [c] },
    E: { data: Float32Array.of(rmsEps), dims: [1] },
    COS: { data: cos, dims: angleDims },
    SIN: { data: sin, dims: angleDims },
    M: { data: m.add, dims: [m.maskBatch, 1, 1, t, t] },
    ...(rowKeep ? { R: { data: m.rowKeep, dims: [m.maskBatch, 1, 1, t, 1] } } : {}),
    scale: { data: Float32Array.of(model.attnScale), dims: [1] },
    SQ: { data: BigInt64Array.from([b, t, kvHeads, heads / kvHeads, d].map(BigInt)), dims: [5] },
    SK: { data: BigInt64Array.from([b, t, kvHeads, 1, d].map(BigInt)), dims: [5] },
  });
  const shape: BlockShape = { c, heads, kvHeads, headDim: d, interleaved, rowKeep, kinds };
  const key = `${c}:${heads}:${kvHeads}:${d}:${ropeLayout}:${rowKeep ? 1 : 0}:${LINEARS.map((l) => kinds[l]).join(",")}`;
  return { feeds, shape, key, loras, n };
}

/**
 * `model.block(layer, x, positions, mask)`'s output (B, T, C) computed by one graph, with no autograd
 * record and the same dropout draws from `rng` (the adapters' RNG); null when the graph does not apply
 * (see prepare): the caller then runs model.block.
 */
export function fusedBlockForward(
  model: LlamaModel,
  layer: LlamaLayer,
  x: Tensor,
  positions: Int32Array,
  mask: Tensor | undefined,
  rng: Rng,
): Tensor | null {
  const p = prepare(model, layer, x, positions, mask, rng);
  if (!p) return null;
  const y = alloc(x.size);
  blockSession(`train-block:${p.key}`, p.shape, false).run(p.feeds, { Y: { data: y, dims: [p.n, p.shape.c] } });
  return new Tensor(y, x.shape);
}

/**
 * The backward of `model.block(layer, x, positions, mask)` from its output's gradient `g`, recomputing
 * the block inside the same graph (gradient checkpointing's recomputation and backward in one call):
 * returns x's gradient and adds each LoRA adapter's A and B gradients into their `.grad`, as
 * `model.block(…).backward({ grad: g })` does, with the same dropout draws from `rng`. Null (nothing
 * drawn or changed) when the graph does not apply.
 */
export function fusedBlockBackward(
  model: LlamaModel,
  layer: LlamaLayer,
  x: Tensor,
  positions: Int32Array,
  mask: Tensor | undefined,
  rng: Rng,
  g: Float32Array,
): Float32Array | null {
  const p = prepare(model, layer, x, positions, mask, rng);
  if (!p) return null;
  const [n, c] = [p.n, p.shape.c];
  const dx = alloc(n * c);
  const into: Record<string, OrtValue> = { DX: { data: dx, dims: [n, c] } };
  const grads: [Tensor, Float32Array][] = [];
  LINEARS.forEach((name, i) => {
    const lora = p.loras[i];
    if (!lora) return;
    const da = new Float32Array(lora.a.size);
    const db = new Float32Array(lora.b.size);
    into[`DA_${name}`] = { data: da, dims: lora.a.shape };
    into[`DB_${name}`] = { data: db, dims: lora.b.shape };
    grads.push([lora.a, da], [lora.b, db]);
  });
  blockSession(`train-block-bwd:${p.key}`, p.shape, true).run({ ...p.feeds, G: { data: g, dims: [n, c] } }, into);
  for (const [param, grad] of grads) {
    if (!param.grad) param.grad = new Tensor(grad, param.shape);
    else {
      const acc = param.grad.data;
      for (let i = 0; i < acc.length; i++) acc[i]! += grad[i]!;
    }
  }
  return dx;
}
