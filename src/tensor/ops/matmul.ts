// Batched matmul with optional transposes, forward and backward, over the kernel interface.
// a: (…, M, K) or (…, K, M) if transA; b: (…, K, N) / (…, N, K) if transB, or 2-D shared by every batch.
import { alloc } from "../arena.js";
import { Tensor, withGrad } from "../tensor.js";
import { matmulKernel, type MatmulDims } from "../kernels/kernel.js";
import { numel, sameShape, shapeError } from "../shape.js";
import { InfuseError } from "../../core/errors.js";

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/** Runs the kernel into a fresh array: (batch, M, N). */
export function mm(a: Float32Array, b: Float32Array, dims: MatmulDims): Float32Array {
  const out = alloc(dims.batch * dims.m * dims.n);
  matmulKernel(a, b, out, dims);
  return out;
}

/** C = op(A) · op(B). Gradients flow to both inputs; a shared 2-D B gets the sum over the batch. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  for (const t of [a, b]) {
    if (!(t instanceof Tensor)) {
      throw new InfuseError(
        "tensor.wrong_dtype",
        `matmul: operands must be f32 Tensors, got ${(t as object).constructor.name}`,
        {
          kind: "input",
          hint: "multiply by a quantized or half-precision weight with qmatmul(x, W)",
        },
      );
    }
  }
  if (a.ndim < 2 || b.ndim < 2) {
    throw shapeError(
      "matmul",
      "both inputs need at least 2 dims",
      [a.shape, b.shape],
      "reshape vectors to (1, K) or (K, 1)",
    );
  }
  const lead = a.shape.slice(0, -2);
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [m, k] = transA ? [a1, a0] : [a0, a1];
  const [kb, n] = transB ? [b1, b0] : [b0, b1];
  const bBatched = b.ndim > 2;
  if (k !== kb || (bBatched && !sameShape(b.shape.slice(0, -2), lead))) {
    throw shapeError(
      "matmul",
      `inner dims ${k} and ${kb} (transA=${transA}, transB=${transB}) or batch dims do not match`,
      [a.shape, b.shape],
      "A's K must equal B's K and batch dims must match (or B must be 2-D)",
    );
  }
  const batch = numel(lead);
  const dims: MatmulDims = { batch, m, k, n, transA, transB, bBatched: bBatched || batch === 1 };
  const out = mm(a.data, b.data, dims);
  const aForB = b.requiresGrad ? a.data : null; // dB needs A
  const bForA = a.requiresGrad ? b.data : null; // dA needs B
  return withGrad(new Tensor(out, [...lead, m, n]), "matmul", [a, b], (g) => [
    bForA ? gradA(g, bForA, dims) : null,
    aForB ? gradB(g, aForB, dims) : null,
  ]);
}

// With C = op(A)·op(B) and G = dC: dA = G·op(B)ᵀ, stored as op(A) was; dB = op(A)ᵀ·G likewise.
function gradA(g: Float32Array, b: Float32Array, d: MatmulDims): Float32Array {
  const { batch, m, k, n, bBatched } = d;
  if (!d.transA) return mm(g, b, { batch, m, k: n, n: k, transA: false, transB: !d.transB, bBatched });
  if (!bBatched && batch > 1) {
    return perBatch(batch, k * m, (t) =>
      gradA(g.subarray(t * m * n, (t + 1) * m * n), b, { ...d, batch: 1, bBatched: true }),
    );
  }
  // dA stored (K, M) = op(B) · Gᵀ
  return mm(b, g, { batch, m: k, k: n, n: m, transA: d.transB, transB: true, bBatched: true });
}

function perBatch(batch: number, size: number, part: (t: number) => Float32Array): Float32Array {
  const out = alloc(batch * size);
  for (let t = 0; t < batch; t++) out.set(part(t), t * size);
  return out;
}

function gradB(g: Float32Array, a: Float32Array, d: MatmulDims): Float32Array {
  const { batch, m, k, n, bBatched } = d;
  if (bBatched) {
    // dB (K, N) = op(A)ᵀ·G; dB stored (N, K) = Gᵀ·op(A)
    if (!d.transB) return mm(a, g, { batch, m: k, k: m, n, transA: !d.transA, transB: false, bBatched: true });
    return mm(g, a, { batch, m: n, k: m, n: k, transA: true, transB: d.transA, bBatched: true });
  }
  // B shared across the batch: fold the batch into the contraction when A is not transposed.
  if (!d.transA) {
    const rows = batch * m;
    if (!d.transB) return mm(a, g, { batch: 1, m: k, k: rows, n, transA: true, transB: false, bBatched: true });
    return mm(g, a, { batch: 1, m: n, k: rows, n: k, transA: true, transB: false, bBatched: true });
  }
  const acc = new Float32Array(k * n);
  for (let t = 0; t < batch; t++) {
    const at = a.subarray(t * m * k, (t + 1) * m * k);
    const gt = g.subarray(t * m * n, (t + 1) * m * n);
    const part = gradB(gt, at, { ...d, batch: 1, bBatched: true });
    for (let i = 0; i < acc.length; i++) acc[i]! += part[i]!;
  }
  return acc;
}
