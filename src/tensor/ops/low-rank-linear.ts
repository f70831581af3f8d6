// A linear layer with a low-rank (LoRA) update as one op: y = x·Wᵀ + s·(xa·Aᵀ)·Bᵀ, xa = x unless the
// adapter reads a dropped-out copy. One onnxruntime graph each way for large shapes (lora-ort.ts);
// otherwise the same products through the matmul kernel. W gets a gradient only if it requires one.
// Shapes: x (…, K) flattened to M rows, W (N, K), A (r, K), B (N, r).
import { Tensor, withGrad } from "../tensor.js";
import { fastPathFor, FAST_PATH_MIN_MACS, matmulKernel, type MatmulDims } from "../kernels/kernel.js";
import {
  ortLowRankLinear,
  ortLowRankLinearBackward,
  type LowRankArrays,
  type LowRankDims,
  type LowRankGradX,
} from "../kernels/lora-ort.js";
import { sameShape, shapeError } from "../shape.js";
import { mm } from "./matmul.js";

/** y = x·Wᵀ + scale·(xa·Aᵀ)·Bᵀ; `xa` (same shape as x) defaults to x. */
export function lowRankLinear(x: Tensor, w: Tensor, a: Tensor, b: Tensor, scale: number, xa: Tensor = x): Tensor {
  const k = x.shape[x.ndim - 1]!;
  const [n, r] = [w.shape[0]!, a.shape[0]!];
  const ok = w.ndim === 2 && w.shape[1] === k && a.ndim === 2 && a.shape[1] === k && b.ndim === 2;
  if (!ok || b.shape[0] !== n || b.shape[1] !== r || !sameShape(xa.shape, x.shape)) {
    throw shapeError(
      "lowRankLinear",
      "need x (…, K), W (N, K), A (r, K), B (N, r) and the adapter input shaped as x",
      [x.shape, w.shape, a.shape, b.shape, xa.shape],
      "pass the layer's weight and the adapter's A and B as stored",
    );
  }
  const d: LowRankDims = { m: x.size / k, k, n, r };
  const split = xa !== x;
  const v: LowRankArrays = { x: x.data, xa: split ? xa.data : null, w: w.data, a: a.data, b: b.data, scale };
  const ort = fastPathFor(d.m * d.k * d.n, FAST_PATH_MIN_MACS) === "ort";
  const y = new Float32Array(d.m * n);
  const h = new Float32Array(d.m * r); // (M, r), kept for dB
  if (ort) ortLowRankLinear(v, d, y, h);
  else referenceForward(v, d, y, h);
  const needX = x.requiresGrad || (split && xa.requiresGrad);
  const gradX: LowRankGradX = !needX ? "none" : split ? "split" : "sum";
  const xForW = w.requiresGrad ? x.data : null; // dW = Gᵀ·x, only for a trainable base
  const inputs = split ? [x, w, a, b, xa] : [x, w, a, b];
  return withGrad(new Tensor(y, [...x.shape.slice(0, -1), n]), "lowRankLinear", inputs, (g) => {
    const grads = {
      da: new Float32Array(r * k),
      db: new Float32Array(n * r),
      dx: gradX === "none" ? null : new Float32Array(d.m * k),
      dxa: gradX === "split" ? new Float32Array(d.m * k) : null,
    };
    if (ort) ortLowRankLinearBackward(v, h, g, d, gradX, grads);
    else referenceBackward(v, h, g, d, grads);
    const dw = xForW ? mm(g, xForW, dims(n, d.m, k, { transA: true })) : null;
    return [grads.dx, dw, grads.da, grads.db, ...(split ? [grads.dxa] : [])];
  });
}

function dims(m: number, k: number, n: number, t: { transA?: boolean; transB?: boolean } = {}): MatmulDims {
  return { batch: 1, m, k, n, transA: t.transA ?? false, transB: t.transB ?? false, bBatched: true };
}

/** The same products one kernel call at a time (each picks its own path by size). */
function referenceForward(v: LowRankArrays, d: LowRankDims, y: Float32Array, h: Float32Array): void {
  const { m, k, n, r } = d;
  matmulKernel(v.x, v.w, y, dims(m, k, n, { transB: true }));
  matmulKernel(v.xa ?? v.x, v.a, h, dims(m, k, r, { transB: true }));
  const delta = mm(h, v.b, dims(m, r, n, { transB: true }));
  for (let i = 0; i < y.length; i++) y[i]! += v.scale * delta[i]!;
}

function referenceBackward(
  v: LowRankArrays,
  h: Float32Array,
  g: Float32Array,
  d: LowRankDims,
  out: { da: Float32Array; db: Float32Array; dx: Float32Array | null; dxa: Float32Array | null },
): void {
  const { m, k, n, r } = d;
  const dh = mm(g, v.b, dims(m, n, r)); // (M, r)
  for (let i = 0; i < dh.length; i++) dh[i]! *= v.scale;
  matmulKernel(dh, v.xa ?? v.x, out.da, dims(r, m, k, { transA: true }));
  const db = mm(g, h, dims(n, m, r, { transA: true }));
  for (let i = 0; i < db.length; i++) out.db[i] = v.scale * db[i]!;
  if (!out.dx) return;
  matmulKernel(g, v.w, out.dx, dims(m, n, k));
  const dxa = mm(dh, v.a, dims(m, r, k));
  if (out.dxa) out.dxa.set(dxa);
  else for (let i = 0; i < dxa.length; i++) out.dx[i]! += dxa[i]!;
}
