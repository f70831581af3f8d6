// The narrow kernel interface ops call for matmul, and the dispatcher that picks a path per shape.
// Small products stay in TypeScript (a native call costs ~15 µs); large ones go to onnxruntime.
import { InfuseError } from "../../core/errors.js";
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

/** Forces one path for every matmul and fused op (tests compare the paths); "auto" restores the dispatcher. */
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

/**
 * Which path a fused op (attention, SwiGLU…) of `work` multiply-adds or values takes: the forced
 * path if any, else onnxruntime from `minWork` up (a native call costs tens of µs).
 */
export function fastPathFor(work: number, minWork: number): "reference" | "ort" {
  if (forced !== "auto") return forced === "ort" && !ortAvailable() ? "reference" : forced;
  return work >= minWork && ortAvailable() ? "ort" : "reference";
}

/** Writes op(A)·op(B) into `out` (length batch·M·N) by the path chosen for these dims. */
export function matmulKernel(a: Float32Array, b: Float32Array, out: Float32Array, dims: MatmulDims): void {
  if (dims.batch * dims.m * dims.n === 0) return;
  if (dims.k === 0) {
    out.fill(0, 0, dims.batch * dims.m * dims.n); // an empty sum
    return;
  }
  if (matmulPathFor(dims) !== "ort") return referenceMatmul(a, b, out, dims);
  try {
    ortMatmul(a, b, out, dims);
  } catch (cause) {
    if (cause instanceof InfuseError) throw cause;
    const { batch, m, k, n, transA, transB } = dims;
    throw new InfuseError(
      "tensor.kernel_failed",
      `matmul kernel (onnxruntime) failed for batch ${batch}, M ${m}, K ${k}, N ${n}, transA ${transA}, transB ${transB}: ${String(cause)}`,
      {
        cause,
        hint: 'out of memory is the usual cause: use smaller batches; setMatmulPath("reference") bypasses onnxruntime',
      },
    );
  }
}
