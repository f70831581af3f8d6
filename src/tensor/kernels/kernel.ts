// The narrow kernel interface ops call for matmul, and the dispatcher that picks a path per shape.
// Small products stay in TypeScript (a native call costs ~15 µs); large ones go to onnxruntime.
import { ortAvailable, ortMatmul } from "./ort.js";
import { referenceMatmul } from "./reference.js";

/** One batched product: A (batch, M, K) [or (batch, K, M) if transA] × B (batch|1, K, N) [or (…, N, K) if transB]. */
export interface MatmulDims {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  /** False when one B is shared by every batch entry. */
  bBatched: boolean;
}

export type MatmulPath = "auto" | "reference" | "ort";

/** Below this many multiply-adds the TypeScript kernel wins (measured: see bench/matmul.ts --crossover). */
export let FAST_PATH_MIN_MACS = 8 * 1024;

let forced: MatmulPath = "auto";

/** Forces one path for every matmul (tests compare the paths); "auto" restores the dispatcher. */
export function setMatmulPath(path: MatmulPath): void {
  forced = path;
}

export function setFastPathThreshold(macs: number): void {
  FAST_PATH_MIN_MACS = macs;
}

/** Which path a product of these dims takes now. */
export function matmulPathFor(dims: MatmulDims): "reference" | "ort" {
  if (forced !== "auto") return forced === "ort" && !ortAvailable() ? "reference" : forced;
  const macs = dims.batch * dims.m * dims.k * dims.n;
  return macs >= FAST_PATH_MIN_MACS && ortAvailable() ? "ort" : "reference";
}

/** Writes op(A)·op(B) into `out` (length batch·M·N) by the path chosen for these dims. */
export function matmulKernel(a: Float32Array, b: Float32Array, out: Float32Array, dims: MatmulDims): void {
  if (matmulPathFor(dims) === "ort") ortMatmul(a, b, out, dims);
  else referenceMatmul(a, b, out, dims);
}
