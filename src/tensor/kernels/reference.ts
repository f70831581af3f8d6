// The plain TypeScript matmul kernel: the reference every fast path is tested against, and the
// faster path for tiny products where a native call costs more than the arithmetic. Single-threaded.
import type { MatmulDims } from "./kernel.js";

/** C = op(A) · op(B) per batch, row-major f32, f64-free inner loops ordered for unit-stride access. */
export function referenceMatmul(a: Float32Array, b: Float32Array, out: Float32Array, dims: MatmulDims): void {
  const { batch, m, k, n, transA, transB, bBatched } = dims;
  const row = new Float32Array(n);
  for (let t = 0; t < batch; t++) {
    const aOff = t * m * k;
    const bOff = bBatched ? t * k * n : 0;
    const cOff = t * m * n;
    for (let i = 0; i < m; i++) {
      if (transB) {
        // C[i, j] = Σ_p A[i, p] · B[j, p]: dot products of two contiguous rows.
        for (let j = 0; j < n; j++) {
          let acc = 0;
          const bRow = bOff + j * k;
          if (transA) for (let p = 0; p < k; p++) acc += a[aOff + p * m + i]! * b[bRow + p]!;
          else {
            const aRow = aOff + i * k;
            for (let p = 0; p < k; p++) acc += a[aRow + p]! * b[bRow + p]!;
          }
          out[cOff + i * n + j] = acc;
        }
        continue;
      }
      // C[i, :] = Σ_p A[i, p] · B[p, :]: axpy over contiguous rows of B.
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const av = transA ? a[aOff + p * m + i]! : a[aOff + i * k + p]!;
        if (av === 0) continue;
        const bRow = bOff + p * n;
        for (let j = 0; j < n; j++) row[j]! += av * b[bRow + j]!;
      }
      out.set(row, cOff + i * n);
    }
  }
}
