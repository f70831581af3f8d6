// Fused ops of an encoder block (BERT family): a linear layer with its bias (and GELU) in one kernel
// call, several linear layers sharing an input as one product (Q, K, V), bidirectional attention
// over that packed QKV with a key-padding mask, and the residual add with the LayerNorm after it. Each has a TypeScript reference path for tiny shapes.
// Shapes: B batch, T tokens, H heads, D head size, C = H·D, M rows (B·T), K inputs, N outputs.
import { isGradEnabled, Tensor, withGrad } from "../tensor.js";
import { shapeError } from "../shape.js";
import { fastPathFor, FAST_PATH_MIN_MACS } from "../kernels/kernel.js";
import { referenceMatmul } from "../kernels/reference.js";
import { ortLinear, ortLinearBackward } from "../kernels/linear-ort.js";
import { ortGelu, ortGeluBackward } from "../kernels/pointwise-ort.js";
import { keyMask, ortPackedAttention, ortPackedAttentionBackward } from "../kernels/bert-attention-ort.js";
import { referenceAttention, referenceAttentionBackward, type AttentionDims } from "../kernels/attention-reference.js";
import { ortLayerNorm, ortLayerNormBackward } from "../kernels/norm-ort.js";
import { ATTENTION_MIN_WORK } from "./attention.js";
import { add } from "./elementwise.js";
import { layerNorm, LAYERNORM_MIN_VALUES } from "./norm.js";
import { erf } from "./activation.js";

const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Rows of several (N_i, K) tensors (or N_i vectors) as one array; one input is returned as is. */
function stack(ts: readonly Tensor[]): Float32Array {
  if (ts.length === 1) return ts[0]!.data;
  const out = new Float32Array(ts.reduce((n, t) => n + t.size, 0));
  let at = 0;
  for (const t of ts) {
    out.set(t.data, at);
    at += t.size;
  }
  return out;
}

/** Views of `all` cut like `ts` (gradients of stacked inputs). */
function unstack(all: Float32Array, ts: readonly Tensor[]): Float32Array[] {
  let at = 0;
  return ts.map((t) => all.subarray(at, (at += t.size)));
}

/**
 * y (…, ΣN) = x (…, K)·[W_1; W_2; …]ᵀ + [b_1; b_2; …], then GELU (erf) when asked: Q, K and V of one
 * input are one product. Gradients reach x and every weight and bias that requires them.
 */
export function fusedLinear(x: Tensor, weights: readonly Tensor[], biases: readonly Tensor[], act?: "gelu"): Tensor {
  const k = x.shape[x.ndim - 1]!;
  const n = weights.reduce((s, w) => s + w.shape[0]!, 0);
  const bad = weights.some((w, i) => w.ndim !== 2 || w.shape[1] !== k || biases[i]?.size !== w.shape[0]);
  if (bad || biases.length !== weights.length) {
    throw shapeError(
      "fusedLinear",
      "each weight must be (N_i, K) with a bias of N_i",
      [x.shape, ...weights.map((w) => w.shape)],
      "give one bias per weight; K is x's last dim",
    );
  }
  const m = x.size / k;
  const [xd, b] = [x.data, stack(biases)];
  const ort = fastPathFor(m * k * n, FAST_PATH_MIN_MACS) === "ort";
  const u = new Float32Array(m * n); // before the activation
  const w = stack(weights);
  if (ort) ortLinear(xd, w, b, m, u);
  else {
    referenceMatmul(xd, w, u, { batch: 1, m, k, n, transA: false, transB: true, bBatched: true });
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) u[i * n + j]! += b[j]!;
  }
  let y = u;
  if (act === "gelu") {
    y = new Float32Array(m * n);
    if (ort) ortGelu(u, y);
    else for (let i = 0; i < u.length; i++) y[i] = 0.5 * u[i]! * (1 + erf(u[i]! * INV_SQRT_2));
  }
  const shape = [...x.shape.slice(0, -1), n];
  const params = [...weights, ...biases];
  return withGrad(new Tensor(y, shape), act ? "linear_gelu" : "linear", [x, ...params], (g) => {
    let gu = g;
    if (act === "gelu") {
      gu = new Float32Array(g.length);
      if (ort) ortGeluBackward(u, g, gu);
      else {
        for (let i = 0; i < g.length; i++) {
          const v = u[i]!;
          gu[i] = g[i]! * (0.5 * (1 + erf(v * INV_SQRT_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
        }
      }
    }
    const needW = params.some((p) => p.requiresGrad);
    const dx = x.requiresGrad ? new Float32Array(m * k) : null;
    const [dw, db] = needW ? [new Float32Array(n * k), new Float32Array(n)] : [null, null];
    const w = stack(weights); // stacked again, not kept: (ΣN, K) per layer would stay alive until backward
    if (ort) ortLinearBackward(gu, xd, w, m, { dx, dw, db });
    else {
      if (dx) referenceMatmul(gu, w, dx, { batch: 1, m, k: n, n: k, transA: false, transB: false, bBatched: true });
      if (dw && db) {
        referenceMatmul(gu, xd, dw, { batch: 1, m: n, k: m, n: k, transA: true, transB: false, bBatched: true });
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) db[j]! += gu[i * n + j]!;
      }
    }
    const wg = dw ? unstack(dw, weights) : weights.map(() => null);
    const bg = db ? unstack(db, biases) : biases.map(() => null);
    return [dx, ...wg, ...bg];
  });
}

/**
 * Bidirectional attention over packed qkv (B, T, 3·C) = [Q | K | V], each (H, D) per token, with
 * keys hidden where `attentionMask` is 0 (right padding or any pattern): (B, T, C). Rows of padding
 * get some finite output (pool them away); a sequence of padding alone is 0 on the TypeScript path.
 */
export function packedAttention(qkv: Tensor, heads: number, attentionMask?: Int32Array | Uint8Array): Tensor {
  const [batch, t, c3] = qkv.shape as [number, number, number];
  const c = c3 / 3;
  const d = c / heads;
  if (qkv.ndim !== 3 || !Number.isInteger(d) || (attentionMask && attentionMask.length !== batch * t)) {
    throw shapeError(
      "packedAttention",
      `qkv must be (B, T, 3·H·D) with H = ${heads} and one mask value per token`,
      [qkv.shape, [attentionMask?.length ?? 0]],
      "pass the fused Q/K/V projection's output and a (B·T) 0/1 mask",
    );
  }
  const x = { batch, t, heads, d };
  const ort = fastPathFor(batch * heads * t * t * 2 * d, ATTENTION_MIN_WORK) === "ort";
  const qd = qkv.data;
  const y = new Float32Array(batch * t * c);
  const mask = keyMask(attentionMask, batch, t);
  if (ort) ortPackedAttention(qd, mask, x, y);
  else referencePacked(qd, mask, x, y, null);
  return withGrad(new Tensor(y, [batch, t, c]), "packed_attention", [qkv], (g) => {
    const dqkv = new Float32Array(qd.length);
    if (ort) ortPackedAttentionBackward(qd, mask, y, g, x, dqkv);
    else referencePacked(qd, mask, x, g, dqkv);
    return [dqkv];
  });
}

/** The reference kernels on split q, k, v copies: forward into `io`, or backward from `io` into dqkv. */
function referencePacked(
  qkv: Float32Array,
  mask: Float32Array,
  x: { batch: number; t: number; heads: number; d: number },
  io: Float32Array,
  dqkv: Float32Array | null,
): void {
  const { batch, t, heads, d } = x;
  const c = heads * d;
  const parts = [0, 1, 2].map(() => new Float32Array(batch * t * c));
  for (let r = 0; r < batch * t; r++)
    for (let p = 0; p < 3; p++) parts[p]!.set(qkv.subarray((r * 3 + p) * c, (r * 3 + p + 1) * c), r * c);
  const add = new Float32Array(batch * t * t);
  const rowKeep = new Float32Array(batch * t);
  for (let b = 0; b < batch; b++) {
    const seen = mask.subarray(b * t, (b + 1) * t).some((v) => v === 0) ? 1 : 0;
    for (let i = 0; i < t; i++) {
      add.set(mask.subarray(b * t, (b + 1) * t), (b * t + i) * t);
      rowKeep[b * t + i] = seen;
    }
  }
  const dims: AttentionDims = {
    batch,
    kvHeads: heads,
    group: 1,
    t,
    s: t,
    d,
    dv: d,
    scale: 1 / Math.sqrt(d),
    order: "bthd",
    maskBatch: batch,
  };
  const [q, k, v] = parts as [Float32Array, Float32Array, Float32Array];
  if (!dqkv) return referenceAttention(q, k, v, { add, rowKeep }, dims, io);
  const grads = { dq: new Float32Array(q.length), dk: new Float32Array(k.length), dv: new Float32Array(v.length) };
  referenceAttentionBackward(q, k, v, { add, rowKeep }, io, dims, grads);
  const gs = [grads.dq, grads.dk, grads.dv];
  for (let r = 0; r < batch * t; r++)
    for (let p = 0; p < 3; p++) dqkv.set(gs[p]!.subarray(r * c, (r + 1) * c), (r * 3 + p) * c);
}

/** LayerNorm(x + z) over the last dim (a post-LN block's residual and norm): one kernel call, one array. */
export function addLayerNorm(x: Tensor, z: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const d = weight.size;
  if (x.size !== z.size || x.shape[x.ndim - 1] !== d || bias.size !== d) {
    throw shapeError(
      "addLayerNorm",
      "x and z must match, with weight and bias of x's last dim",
      [x.shape, z.shape, weight.shape],
      "pass the block input, its branch output and the norm's parameters",
    );
  }
  if (fastPathFor(x.size, LAYERNORM_MIN_VALUES) !== "ort") return layerNorm(add(x, z), weight, bias, eps);
  const inputs = [x, z, weight, bias];
  const track = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const rows = x.size / d;
  const keep = track ? { xhat: new Float32Array(x.size), inv: new Float32Array(rows) } : null;
  const y = new Float32Array(x.size);
  const w = weight.data;
  ortLayerNorm(x.data, w, bias.data, eps, y, keep, z.data);
  return withGrad(new Tensor(y, x.shape), "add_layer_norm", inputs, (g) => {
    const [gx, gw, gb] = [new Float32Array(g.length), new Float32Array(d), new Float32Array(d)];
    ortLayerNormBackward(g, keep!.xhat, w, keep!.inv, gx, gw, gb);
    return [gx, gx, gw, gb]; // the sum's gradient reaches both summands as is
  });
}
