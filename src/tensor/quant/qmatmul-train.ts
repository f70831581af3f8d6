// The differentiable matmul against a frozen quantized weight (QLoRA training): y = x · dequant(W)ᵀ with
// the gradient to x only, and the small cache of dequantized weights it and lowRankLinear share. The
// inference path (qmatmulRaw, int8 activations) is qmatmul.ts; this one is exact to f32 rounding.
import { alloc, allocZeroed } from "../arena.js";
import { Tensor, withGrad } from "../tensor.js";
import { matmulKernel } from "../kernels/kernel.js";
import { shapeError } from "../shape.js";
import { QuantTensor } from "./formats.js";
import { qmatmulTiled } from "./qmatmul.js";
import { InfuseError } from "../../core/errors.js";

/**
 * f32 values the cache may hold (16 MiB): one decoder block's weights of SmolLM-135M's shape (3.5 M).
 * A checkpointed step decodes each weight when its block runs forward, again when backward recomputes
 * the block, and a third time for x's gradient: the cache turns the third into a hit (2 decodings of
 * each block weight a step instead of 3). Weights larger than this take the tiled path.
 */
let cacheValues = 1 << 22;

/** Sets the cache's size in f32 values (0 turns it off); returns the previous size. Tests shrink it. */
export function setDequantCacheValues(values: number): number {
  const before = cacheValues;
  cacheValues = values;
  dropDequantCache();
  return before;
}

/** Most recently used last; buffers of evicted entries are kept by length for the next weight. */
const entries: { w: QuantTensor; data: Float32Array }[] = [];
const spare = new Map<number, Float32Array[]>();
let held = 0;

/**
 * f32 values a weight may have decoded once and held for the run (`pinnedDequantized`): 48 MiB. A small
 * model's quantized output head fits (stories15M's 32000 × 288: 9.2 M) and then runs the f32 head's
 * fused loss graph, one onnxruntime call per chunk instead of decoded tiles, a separate softmax graph and
 * tile products with K = 288 (a QLoRA step's CPU time −36%, peak RSS +15–25 MB: 1/3 of a stories15M
 * QLoRA step was its head). Larger heads (SmolLM-135M's 28 M values: ~110 MB for no measurable gain)
 * keep the tiles.
 */
export const PIN_VALUES = 12 << 20;
const pinned = new Map<QuantTensor, Float32Array>();

/** Frees every cached dequantized weight, pinned ones too (e.g. after training). */
export function dropDequantCache(): void {
  entries.length = 0;
  spare.clear();
  held = 0;
  pinned.clear();
}

/**
 * W's f32 values (N, K), decoded on first use and held until dropDequantCache, when W has at most
 * PIN_VALUES values; else null. Callers must not write to the array.
 */
export function pinnedDequantized(w: QuantTensor): Float32Array | null {
  if (w.rows * w.rowLength > PIN_VALUES) return null;
  let data = pinned.get(w);
  if (!data) pinned.set(w, (data = w.dequantize()));
  return data;
}

/** Whether W's f32 values fit the cache (then `dequantized(w)` serves them). */
export function dequantCacheable(w: QuantTensor): boolean {
  return w.shape.length === 2 && w.rows * w.rowLength <= cacheValues;
}

/**
 * W's f32 values (N, K) from the cache, decoded on a miss. The array is valid until the next call:
 * a later call may evict it and reuse its storage, so callers never keep it (backward calls again).
 */
export function dequantized(w: QuantTensor): Float32Array {
  const at = entries.findIndex((e) => e.w === w);
  if (at >= 0) {
    const hit = entries[at]!;
    if (at !== entries.length - 1) entries.push(...entries.splice(at, 1));
    return hit.data;
  }
  const size = w.rows * w.rowLength;
  while (entries.length > 0 && held + size > cacheValues) {
    const old = entries.shift()!;
    held -= old.data.length;
    const list = spare.get(old.data.length) ?? [];
    list.push(old.data);
    spare.set(old.data.length, list);
  }
  const data = spare.get(size)?.pop() ?? new Float32Array(size);
  w.dequantizeRows(0, w.rows, data);
  entries.push({ w, data });
  held += size;
  return data;
}

/**
 * Every weight's f32 values at once, when their sum fits the cache (then no call evicts another's
 * array); else null. Valid until the next call of `dequantized` or this function, as `dequantized`'s.
 */
export function dequantizedAll(ws: QuantTensor[]): Float32Array[] | null {
  let total = 0;
  for (const w of ws) total += w.shape.length === 2 ? w.rows * w.rowLength : Infinity;
  if (total > cacheValues) return null;
  // a fetched weight moves to the cache's recent end and eviction takes the least recent first, so a
  // later miss evicts only older entries while these weights fit together: all arrays stay valid
  return ws.map((w) => dequantized(w));
}

/** dx (M, K) = g (M, N) · W, W dequantized tile by tile (weights too large for the cache). */
function gradInputTiled(g: Float32Array, w: QuantTensor, m: number): Float32Array {
  const [n, k] = [w.rows, w.rowLength];
  const dx = allocZeroed(m * k);
  const tileRows = Math.max(1, Math.min(n, Math.floor((1 << 20) / k)));
  const tile = new Float32Array(tileRows * k);
  const gTile = new Float32Array(m * tileRows);
  const part = new Float32Array(m * k);
  for (let r0 = 0; r0 < n; r0 += tileRows) {
    const rows = Math.min(tileRows, n - r0);
    w.dequantizeRows(r0, r0 + rows, tile.subarray(0, rows * k));
    const gt = rows === n ? g : gTile.subarray(0, m * rows); // (M, rows)
    if (rows !== n) for (let i = 0; i < m; i++) gt.set(g.subarray(i * n + r0, i * n + r0 + rows), i * rows);
    matmulKernel(gt, tile.subarray(0, rows * k), part, dims(m, rows, k, false));
    for (let i = 0; i < dx.length; i++) dx[i]! += part[i]!;
  }
  return dx;
}

const dims = (m: number, k: number, n: number, transB: boolean) => ({
  batch: 1,
  m,
  k,
  n,
  transA: false,
  transB,
  bBatched: true,
});

/** y (…, N) = x (…, K) · Wᵀ for a frozen W (N, K); the gradient flows to x only. */
export function qmatmul(x: Tensor, w: QuantTensor): Tensor {
  if (!(w instanceof QuantTensor)) {
    throw new InfuseError(
      "tensor.wrong_dtype",
      `qmatmul: W must be a QuantTensor, got ${(w as object).constructor.name}`,
      {
        kind: "input",
        hint: "use matmul(x, W, { transB: true }) for an f32 weight",
      },
    );
  }
  const k = w.rowLength;
  if (w.shape.length !== 2 || x.shape[x.ndim - 1] !== k) {
    throw shapeError(
      "qmatmul",
      `x's last dim must equal W's row length ${k} (W is (N, K))`,
      [x.shape, w.shape],
      "pass W as (out_features, in_features)",
    );
  }
  const [m, n] = [x.size / k, w.rows];
  const out = alloc(m * n);
  // Exact dequantized values whatever the grad mode: training, checkpoint recomputation and scoring see
  // one function, the one the backward differentiates. Int8 activations are for qmatmulRaw (decoding).
  const cached = dequantCacheable(w);
  if (cached) matmulKernel(x.data, dequantized(w), out, dims(m, k, n, true));
  else qmatmulTiled(x.data, w, out, m);
  return withGrad(new Tensor(out, [...x.shape.slice(0, -1), n]), "qmatmul", [x], (g) => {
    if (!cached) return [gradInputTiled(g, w, m)];
    const dx = alloc(m * k);
    matmulKernel(g, dequantized(w), dx, dims(m, n, k, false));
    return [dx];
  });
}
