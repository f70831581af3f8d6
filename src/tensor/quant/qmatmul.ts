// Matmul against a frozen quantized weight: y = x · Wᵀ with W (N, K) in a storage type. In the decoder's
// qmatmulRaw, Q4_0 (and Q8_0 for up to 128 rows) run on onnxruntime's MatMulNBits (W repacked once, held
// prepacked, int8 activations as llama.cpp); the rest dequantize tiles of W's rows into reused f32
// buffers for the fast f32 path. The differentiable qmatmul (training) is qmatmul-train.ts.
import { cpuFeatures } from "../kernels/cpu.js";
import { matmulKernel, matmulPathFor } from "../kernels/kernel.js";
import { ortQuantWeight, type NBitsWeight, type OrtHeldWeight } from "../kernels/ort.js";
import { dropBytes, toNBits, toNBits8 } from "./nbits.js";
import type { QuantTensor } from "./formats.js";

export { qmatmul } from "./qmatmul-train.js"; // the differentiable form, for existing importers

/** Values dequantized per tile (4 MiB of f32): large enough to amortise a kernel call, small for cache. */
const TILE_VALUES = 1 << 20;

/**
 * Rows of x up to which Q8_0 takes the int8-activation kernel; above it the exact tiled f32 path, whose
 * dequantization costs the same at any M and so is amortised only by many rows. With int8 dot products
 * in hardware (VNNI, arm64 dot) int8 wins at every M: AMD EPYC with AVX-512 VNNI, 2 threads, time over
 * f32 at 256 rows 0.84–0.91× (tiles 1.2–1.8×). Without them (measured on an AVX2-only path): int8
 * 1.1–2.0× and tiles 2.2–9.7× for 32–128 rows; at 256 rows tiles 1.1–2.0×, int8 1.6–1.9×.
 */
export const Q8_INT8_MAX_ROWS_NO_DOT = 128;
let q8Int8MaxRows: number | undefined;

/** The Q8_0 int8 row limit in force: Infinity on CPUs with int8 dot products, else Q8_INT8_MAX_ROWS_NO_DOT. */
export function q8Int8Rows(): number {
  return (q8Int8MaxRows ??= cpuFeatures().int8Dot ? Infinity : Q8_INT8_MAX_ROWS_NO_DOT);
}

/** Overrides the limit (tests; undefined restores the CPU's default). */
export function setQ8Int8Rows(rows: number | undefined): void {
  q8Int8MaxRows = rows;
}

/** Grow-only scratch arrays reused across calls: a fresh 4 MiB tile per call cost page faults and GC. */
const scratch: Float32Array[] = [];
function scratchBuffer(slot: number, length: number): Float32Array {
  let b = scratch[slot];
  if (!b || b.length < length) scratch[slot] = b = new Float32Array(length);
  return b.subarray(0, length);
}

type Accuracy = 0 | 4;
/**
 * Block types qmatmulRaw requantizes to 8-bit MatMulNBits on CPUs with int8 dot products, for products
 * of at least REQUANT8_MIN_ROWS rows (prompt chunks: 2 threads, 256 rows, ~0.85× f32's time against
 * tiles' 1.7–2.3×); fewer rows (decode steps) keep the exact tiles, so decoding stays x·dequant(W)ᵀ.
 */
const REQUANT8 = new Set<string>(["q4_k", "nf4"]);
export const REQUANT8_MIN_ROWS = 64;
const nbitsKernels = new WeakMap<QuantTensor, Map<Accuracy, OrtHeldWeight | null>>();

/**
 * The MatMulNBits session of W at an accuracy level, made on first use; null when W has no NBits form.
 * Q4_0/Q8_0 keep their blocks; other types are requantized to 8 bits (toNBits8, accuracy 4 only).
 */
function nbitsKernel(w: QuantTensor, accuracy: Accuracy): OrtHeldWeight | null {
  let byLevel = nbitsKernels.get(w);
  if (!byLevel) nbitsKernels.set(w, (byLevel = new Map()));
  let kernel = byLevel.get(accuracy);
  if (kernel === undefined) {
    const form = nbitsSlices(w) ?? (accuracy === 4 ? toNBits8(w) : null);
    kernel = form ? ortQuantWeight(form, accuracy) : null;
    byLevel.set(accuracy, kernel);
    // Where this kernel serves every M (Q4_0 always; Q8_0 with int8 dot products), onnxruntime's
    // copy is the only one inference needs; the bytes come back from their file if a backward pass,
    // an embedding lookup or a small-shape fallback reads them.
    if (kernel && (w.type === "q4_0" || (w.type === "q8_0" && q8Int8Rows() === Infinity))) dropBytes(w);
  }
  return kernel;
}

/**
 * Largest MatMulNBits initializer of one node. onnxruntime copies each initializer while it loads a
 * model and frees the copy once prepacked; glibc then raises its mmap threshold to the largest such
 * freed block (up to 32 MiB), and every later allocation below it, run after run of intermediates,
 * comes from the heap, where it stays. An output head of SmolLM-135M as one 28 MiB node left the
 * threshold there; in slices of at most this size it stays near the layers' own.
 */
export const NBITS_SLICE_BYTES = 2 << 20;

/** W's exact MatMulNBits form (Q4_0/Q8_0) in row slices of at most NBITS_SLICE_BYTES; null for other types. */
function nbitsSlices(w: QuantTensor): NBitsWeight[] | null {
  const whole = toNBits(w);
  if (!whole) return null;
  const bytesPerRow = (whole.k * whole.bits) / 8;
  const step = Math.max(1, Math.floor(NBITS_SLICE_BYTES / bytesPerRow));
  if (step >= w.rows) return [whole];
  const out: NBitsWeight[] = [];
  for (let start = 0; start < w.rows; start += step)
    out.push(toNBits(w, { start, end: Math.min(w.rows, start + step) })!);
  return out;
}

/**
 * Builds now the kernel qmatmulRaw would build at the first product of `m` rows (default options), so a
 * caller can make its sessions in one sequence (layer-graph.ts: the output head right after the layers).
 */
export function prepareQmatmul(w: QuantTensor, m: number): void {
  kernelFor(w, m, {});
}

/** The MatMulNBits kernel qmatmulRaw runs `m` rows of x through (made on first use), or null for tiles. */
function kernelFor(w: QuantTensor, m: number, options: QmatmulOptions): OrtHeldWeight | null {
  const dims = { batch: 1, m, k: w.rowLength, n: w.rows, transA: false, transB: true, bBatched: true };
  if (matmulPathFor(dims) !== "ort") return null;
  if (w.type === "q4_0") return nbitsKernel(w, options.exact ? 0 : 4);
  if (options.exact) return null;
  if (w.type === "q8_0" && m <= q8Int8Rows()) return nbitsKernel(w, 4);
  if (requant8Always.has(w)) return nbitsKernel(w, 4);
  if (REQUANT8.has(w.type) && m >= REQUANT8_MIN_ROWS && cpuFeatures().int8Dot) return nbitsKernel(w, 4);
  return null;
}

/**
 * Weights whose products take the 8-bit requantized kernel at every row count, decode steps included
 * (requantizeAtEveryM): the output head of a model whose layer graphs hold its layers so.
 */
const requant8Always = new WeakSet<QuantTensor>();

/** From now on W's products (not `exact` ones) take toNBits8's 8-bit blocks at every M, as the layer graphs do. */
export function requantizeAtEveryM(w: QuantTensor): void {
  if (w.type !== "q4_0" && w.type !== "q8_0") requant8Always.add(w);
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
 * kernel's time at M = 1, 0.7× at 16, 0.9–1× at 128–512); Q8_0 with M ≤ q8Int8Rows() → the same
 * for Q8_0; with int8 dot products in hardware, Q4_K/NF4 products of ≥ REQUANT8_MIN_ROWS rows
 * requantized to 8 bits per 32 values (toNBits8) → the same kernel; the rest → dequantized tiles.
 * Int8 activations differ from x · dequant(W)ᵀ by ~1e-2 relative at most; `exact` keeps to f32
 * rounding (Q4_0's f32-accuracy kernel, or tiles).
 */
export function qmatmulRaw(
  x: Float32Array,
  w: QuantTensor,
  out: Float32Array,
  m: number,
  options: QmatmulOptions = {},
): void {
  const kernel = kernelFor(w, m, options);
  if (kernel) return kernel.run(x, m, out);
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
