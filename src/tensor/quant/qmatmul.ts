// Matmul against a frozen quantized weight: y = x · Wᵀ with W (N, K) in a storage type. In the decoder's
// qmatmulRaw, Q4_0 (and Q8_0 for up to 128 rows) run on onnxruntime's MatMulNBits (W repacked once, held
// prepacked, int8 activations as llama.cpp); the rest dequantize tiles of W's rows into reused f32
// buffers for the fast f32 path. The differentiable qmatmul (training) is qmatmul-train.ts.
import { matmulKernel, matmulPathFor } from "../kernels/kernel.js";
import { ortQuantWeight, type OrtQuantWeight } from "../kernels/ort.js";
import { toNBits } from "./nbits.js";
import type { QuantTensor } from "./formats.js";

export { qmatmul } from "./qmatmul-train.js"; // the differentiable form, for existing importers

/** Values dequantized per tile (4 MiB of f32): large enough to amortise a kernel call, small for cache. */
const TILE_VALUES = 1 << 20;

/**
 * Rows of x up to which Q8_0 takes the int8-activation kernel; above it the exact tiled f32 path, whose
 * dequantization costs the same at any M and so is amortised only by many rows. Measured (2 threads,
 * time over f32): int8 1.1–2.0× and tiles 2.2–9.7× for 32–128 rows; at 256 rows tiles 1.1–2.0×, int8 1.6–1.9×.
 */
export const Q8_INT8_MAX_ROWS = 128;

/** Grow-only scratch arrays reused across calls: a fresh 4 MiB tile per call cost page faults and GC. */
const scratch: Float32Array[] = [];
function scratchBuffer(slot: number, length: number): Float32Array {
  let b = scratch[slot];
  if (!b || b.length < length) scratch[slot] = b = new Float32Array(length);
  return b.subarray(0, length);
}

type Accuracy = 0 | 4;
const nbitsKernels = new WeakMap<QuantTensor, Map<Accuracy, OrtQuantWeight | null>>();

/** The MatMulNBits session of W at an accuracy level, made on first use; null when W has no NBits form. */
function nbitsKernel(w: QuantTensor, accuracy: Accuracy): OrtQuantWeight | null {
  let byLevel = nbitsKernels.get(w);
  if (!byLevel) nbitsKernels.set(w, (byLevel = new Map()));
  let kernel = byLevel.get(accuracy);
  if (kernel === undefined) {
    const form = toNBits(w);
    kernel = form ? ortQuantWeight(form, accuracy) : null;
    byLevel.set(accuracy, kernel);
    // Q4_0 runs on this kernel at every M, so onnxruntime's copy is the only one inference needs; the
    // bytes come back from their file if a backward pass or a small-shape fallback reads them.
    if (kernel && w.type === "q4_0") w.releaseBytes();
  }
  return kernel;
}

/** Frees the onnxruntime copies of W now (they are rebuilt if W is used again). */
export function releaseQuantKernel(w: QuantTensor): void {
  for (const kernel of nbitsKernels.get(w)?.values() ?? []) kernel?.dispose();
  nbitsKernels.delete(w);
}

export interface QmatmulOptions {
  /** Only paths that agree with x · dequant(W)ᵀ to f32 rounding (no int8 activations). */
  exact?: boolean;
}

/**
 * out (M, N) = x (M, K) · Wᵀ. Measured choice (bench/matmul.ts): Q4_0 → MatMulNBits with x quantized to
 * int8 per block, as llama.cpp's Q4_0 dot does (2 threads, K 2048, N 5632: 0.16× the f32-accuracy
 * kernel's time at M = 1, 0.7× at 16, 0.9–1× at 128–512); Q8_0 with M ≤ Q8_INT8_MAX_ROWS → the same
 * for Q8_0; the rest → dequantized tiles. Int8 activations differ from x · dequant(W)ᵀ by ~1e-2
 * relative at most; `exact` keeps to f32 rounding (Q4_0's f32-accuracy kernel, or tiles).
 */
export function qmatmulRaw(
  x: Float32Array,
  w: QuantTensor,
  out: Float32Array,
  m: number,
  options: QmatmulOptions = {},
): void {
  const n = w.rows;
  const k = w.rowLength;
  const dims = { batch: 1, m, k, n, transA: false, transB: true, bBatched: true };
  if (matmulPathFor(dims) === "ort") {
    const int8 = w.type === "q8_0" && !options.exact && m <= Q8_INT8_MAX_ROWS;
    const accuracy = options.exact ? 0 : 4;
    const kernel = w.type === "q4_0" ? nbitsKernel(w, accuracy) : int8 ? nbitsKernel(w, 4) : null;
    if (kernel) return kernel.run(x, m, out);
  }
  qmatmulTiled(x, w, out, m);
}

/** The dequantize-a-tile path, for every storage type. */
export function qmatmulTiled(x: Float32Array, w: QuantTensor, out: Float32Array, m: number): void {
  const n = w.rows;
  const k = w.rowLength;
  const tileRows = Math.max(1, Math.min(n, Math.floor(TILE_VALUES / k)));
  const tile = scratchBuffer(0, tileRows * k);
  const part = tileRows === n ? tile : scratchBuffer(1, m * tileRows); // unused when one tile holds W
  for (let r0 = 0; r0 < n; r0 += tileRows) {
    const rows = Math.min(tileRows, n - r0);
    const wTile = tile.subarray(0, rows * k); // (rows, K)
    w.dequantizeRows(r0, r0 + rows, wTile);
    if (rows === n) {
      matmulKernel(x, wTile, out, { batch: 1, m, k, n: rows, transA: false, transB: true, bBatched: true });
      return;
    }
    const p = part.subarray(0, m * rows); // (M, rows)
    matmulKernel(x, wTile, p, { batch: 1, m, k, n: rows, transA: false, transB: true, bBatched: true });
    for (let i = 0; i < m; i++) out.set(p.subarray(i * rows, (i + 1) * rows), i * n + r0);
  }
}
