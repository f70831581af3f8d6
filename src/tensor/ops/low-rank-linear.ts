// A linear layer with a low-rank (LoRA) update as one op: y = x·Wᵀ + s·((x⊙M)·Aᵀ)·Bᵀ, M the adapter's
// dropout mask when it has one. One onnxruntime graph each way for large shapes (lora-ort.ts);
// otherwise the same products through the matmul kernel. W gets a gradient only if it requires one; a
// frozen quantized W (QLoRA) is read dequantized from qmatmul-train's cache, in forward and again in backward.
// Shapes: x (…, K) flattened to M rows, W (N, K), A (r, K), B (N, r).
import { alloc } from "../arena.js";
import { Tensor, withGrad } from "../tensor.js";
import { QuantTensor } from "../quant/formats.js";
import { dequantCacheable, dequantized } from "../quant/qmatmul-train.js";
import { fastPathFor, FAST_PATH_MIN_MACS, matmulKernel, type MatmulDims } from "../kernels/kernel.js";
import {
  ortLowRankLinear,
  ortLowRankLinearBackward,
  type LowRankArrays,
  type LowRankDims,
  type LowRankGrads,
} from "../kernels/lora-ort.js";
import { shapeError } from "../shape.js";
import { mm } from "./matmul.js";

/**
 * y = x·Wᵀ + scale·((x⊙mask)·Aᵀ)·Bᵀ: `mask` (one value per element of x) is the adapter's dropout
 * mask, applied to the adapter's input only (PEFT's lora_dropout); without it the adapter reads x.
 * A QuantTensor W must fit the dequantization cache (dequantCacheable).
 */
export function lowRankLinear(
  x: Tensor,
  w: Tensor | QuantTensor,
  a: Tensor,
  b: Tensor,
  scale: number,
  mask?: Float32Array,
): Tensor {
  const k = x.shape[x.ndim - 1]!;
  const [n, r] = [w.shape[0]!, a.shape[0]!];
  const ok = w.shape.length === 2 && w.shape[1] === k && a.ndim === 2 && a.shape[1] === k && b.ndim === 2;
  if (w instanceof QuantTensor && !dequantCacheable(w)) {
    throw shapeError(
      "lowRankLinear",
      "a quantized W must fit the dequantization cache",
      [w.shape],
      "use qmatmul(x, W) plus the adapter's own forward for weights this large",
    );
  }
  if (!ok || b.shape[0] !== n || b.shape[1] !== r || (mask !== undefined && mask.length !== x.size)) {
    throw shapeError(
      "lowRankLinear",
      "need x (…, K), W (N, K), A (r, K), B (N, r) and a dropout mask of x's size",
      [x.shape, w.shape, a.shape, b.shape, ...(mask ? [[mask.length]] : [])],
      "pass the layer's weight and the adapter's A and B as stored",
    );
  }
  const d: LowRankDims = { m: x.size / k, k, n, r };
  // a quantized W's values are valid until the cache's next call: fetched again in backward, never kept
  const wData = (): Float32Array => (w instanceof QuantTensor ? dequantized(w) : w.data);
  const v: LowRankArrays = { x: x.data, mask: mask ?? null, w: wData(), a: a.data, b: b.data, scale };
  const ort = fastPathFor(d.m * d.k * d.n, FAST_PATH_MIN_MACS) === "ort";
  const y = alloc(d.m * n);
  const h = alloc(d.m * r); // (M, r), kept for dB
  if (ort) ortLowRankLinear(v, d, y, h);
  else referenceForward(v, d, y, h);
  v.w = new Float32Array(0); // not held between forward and backward
  const xForW = w instanceof Tensor && w.requiresGrad ? x.data : null; // dW = Gᵀ·x, only for a trainable base
  const inputs = w instanceof Tensor ? [x, w, a, b] : [x, a, b];
  return withGrad(new Tensor(y, [...x.shape.slice(0, -1), n]), "lowRankLinear", inputs, (g) => {
    v.w = wData();
    const grads = {
      da: alloc(r * k),
      db: alloc(n * r),
      dx: x.requiresGrad ? alloc(d.m * k) : null,
    };
    if (ort) ortLowRankLinearBackward(v, h, g, d, grads);
    else referenceBackward(v, h, g, d, grads);
    v.w = new Float32Array(0);
    const dw = xForW ? mm(g, xForW, dims(n, d.m, k, { transA: true })) : null;
    return w instanceof Tensor ? [grads.dx, dw, grads.da, grads.db] : [grads.dx, grads.da, grads.db];
  });
}

/** x⊙mask, or x itself without a mask. */
function adapterInput(v: LowRankArrays): Float32Array {
  if (!v.mask) return v.x;
  const out = new Float32Array(v.x.length);
  for (let i = 0; i < out.length; i++) out[i] = v.x[i]! * v.mask[i]!;
  return out;
}

function dims(m: number, k: number, n: number, t: { transA?: boolean; transB?: boolean } = {}): MatmulDims {
  return { batch: 1, m, k, n, transA: t.transA ?? false, transB: t.transB ?? false, bBatched: true };
}

/** The same products one kernel call at a time (each picks its own path by size). */
function referenceForward(v: LowRankArrays, d: LowRankDims, y: Float32Array, h: Float32Array): void {
  const { m, k, n, r } = d;
  matmulKernel(v.x, v.w, y, dims(m, k, n, { transB: true }));
  matmulKernel(adapterInput(v), v.a, h, dims(m, k, r, { transB: true }));
  const delta = mm(h, v.b, dims(m, r, n, { transB: true }));
  for (let i = 0; i < y.length; i++) y[i]! += v.scale * delta[i]!;
}

function referenceBackward(
  v: LowRankArrays,
  h: Float32Array,
  g: Float32Array,
  d: LowRankDims,
  out: LowRankGrads,
): void {
  const { m, k, n, r } = d;
  const dh = mm(g, v.b, dims(m, n, r)); // (M, r)
  for (let i = 0; i < dh.length; i++) dh[i]! *= v.scale;
  matmulKernel(dh, adapterInput(v), out.da, dims(r, m, k, { transA: true }));
  const db = mm(g, h, dims(n, m, r, { transA: true }));
  for (let i = 0; i < db.length; i++) out.db[i] = v.scale * db[i]!;
  if (!out.dx) return;
  matmulKernel(g, v.w, out.dx, dims(m, n, k));
  const dxa = mm(dh, v.a, dims(m, r, k));
  const mask = v.mask;
  if (mask) for (let i = 0; i < dxa.length; i++) out.dx[i]! += dxa[i]! * mask[i]!;
  else for (let i = 0; i < dxa.length; i++) out.dx[i]! += dxa[i]!;
}
