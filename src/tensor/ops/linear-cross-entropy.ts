// Output head and cross-entropy fused: loss = CE(h·Wᵀ, targets) over chunks of rows, so the (N, V)
// logits, their softmax and their gradient never exist whole — one (R, V) chunk at a time. The loss is a
// scalar, so the gradients are computed in forward while each chunk's logits are at hand (no recompute)
// and backward only scales them; nothing is computed for gradients when nothing needs them (eval).
// Rows whose target is ignored get no logits at all. W is f32 (its gradient too when it requires grad)
// or a frozen QuantTensor. Leaves out a bias and adapters: callers use matmul + crossEntropy for those.
// Chunks of ≥ LCE_MIN_VALUES logits run as one onnxruntime graph each (kernels/cross-entropy-ort.ts:
// logits, loss, gradient and dH/dW for an f32 head; loss and gradient over a quantized head's logits);
// smaller ones, and everything without onnxruntime, take the TypeScript loops below.
import { alloc, allocZeroed, arenaScope } from "../arena.js";
import { InfuseError } from "../../core/errors.js";
import {
  LOSS_RECOMPUTE_ABOVE,
  ortHeadCrossEntropy,
  ortLogitsCrossEntropy,
  type ChunkLabels,
} from "../kernels/cross-entropy-ort.js";
import { fastPathFor, matmulKernel, type MatmulDims } from "../kernels/kernel.js";
import { QuantTensor } from "../quant/formats.js";
import { qmatmulRaw } from "../quant/qmatmul.js";
import { shapeError, shapeStr } from "../shape.js";
import { isGradEnabled, Tensor, withGrad } from "../tensor.js";
import type { CrossEntropyOptions } from "./softmax.js";

/** Logit values per chunk (8 MiB of f32): big enough for the matmul kernel, small beside activations. */
const CHUNK_VALUES = 1 << 21;
/**
 * Logit values per chunk for a quantized head (20 MiB), whose chunks are balanced (equal rows, no small
 * last one): each chunk is a pass decoding all of W with the chunk's rows as its products' M, so fewer,
 * larger chunks. SmolLM-135M's Q8_0 head, 256 rows: 7 chunks of ≤ 42 rows (8 passes over W) → 3 of 86
 * (4 passes), the head's CPU time −25% for ~17 MB more of logits and softmax.
 */
const QUANT_CHUNK_VALUES = 5 << 20;
/** Logits per chunk from which the onnxruntime graph beats the TypeScript loop (one session call). */
const LCE_MIN_VALUES = 1 << 15;

export interface LinearCrossEntropyOptions extends CrossEntropyOptions {
  /** Rows of logits per chunk; default fits CHUNK_VALUES. */
  chunkRows?: number;
}

/**
 * crossEntropy(h (…, K) · Wᵀ, targets) for W (V, K), without materialising the (…, V) logits. Same
 * loss and gradients as the unfused pair (mean over targets not ignored; 0 when all are ignored).
 */
export function linearCrossEntropy(
  h: Tensor,
  w: Tensor | QuantTensor,
  targets: Int32Array,
  options: LinearCrossEntropyOptions = {},
): Tensor {
  const [vocab, k] = w.shape as [number, number];
  const rows = h.size / k;
  if (w.shape.length !== 2 || h.shape[h.ndim - 1] !== k || rows !== targets.length) {
    throw shapeError(
      "linearCrossEntropy",
      `h's last dim must equal W's row length and give one row per target (${targets.length} targets)`,
      [h.shape, w.shape, [targets.length]],
      "pass h (…, K), W (V, K) and one target per row of h",
    );
  }
  const ignore = options.ignoreIndex ?? -100;
  const active = activeRows(targets, ignore, vocab, h.shape);
  const div = options.reduction === "sum" ? 1 : Math.max(active.length, 1);
  const wTrain = w instanceof Tensor && w.requiresGrad;
  const grads = isGradEnabled() && (h.requiresGrad || wTrain);
  const dh = grads && h.requiresGrad ? allocZeroed(h.size) : null; // rows without a target stay 0
  const dw = grads && wTrain ? new Float32Array(w.size) : null;
  const chunk = Math.max(1, options.chunkRows ?? defaultChunkRows(w, vocab, active.length));
  const hd = h.data;
  const maxRows = Math.min(chunk, active.length);
  if (maxRows > 0 && fastPathFor(maxRows * vocab, LCE_MIN_VALUES) === "ort") {
    // the chunks' scratch goes back to the arena (when a scope is open) as soon as they are done
    const loss = arenaScope(() => ortChunks(hd, w, targets, active, chunk, 1 / div, dh, dw));
    return finish(h, w, loss / div, dh, dw);
  }
  const logits = new Float32Array(maxRows * vocab); // (R, V), reused
  const hc = new Float32Array(maxRows * k); // (R, K) rows of h with a target
  const dhc = dh ? new Float32Array(hc.length) : null;
  const backward = dh ? headBackward(w, maxRows) : null; // scratch made once per call
  const dwPart = dw ? new Float32Array(dw.length) : null;
  let loss = 0;
  for (let c0 = 0; c0 < active.length; c0 += chunk) {
    const n = Math.min(chunk, active.length - c0);
    for (let i = 0; i < n; i++) hc.set(hd.subarray(active[c0 + i]! * k, (active[c0 + i]! + 1) * k), i * k);
    const x = logits.subarray(0, n * vocab);
    headForward(hc.subarray(0, n * k), w, x, n);
    for (let i = 0; i < n; i++) {
      const t = targets[active[c0 + i]!]!;
      loss += rowLoss(x.subarray(i * vocab, (i + 1) * vocab), t, grads, 1 / div);
    }
    if (!grads) continue;
    // x now holds d loss / d logits (softmax − onehot) / div for these rows.
    if (dh && dhc && backward) {
      backward(x, dhc.subarray(0, n * k), n);
      for (let i = 0; i < n; i++) dh.set(dhc.subarray(i * k, (i + 1) * k), active[c0 + i]! * k);
    }
    if (dw && dwPart) {
      matmulKernel(x, hc.subarray(0, n * k), dwPart, dims(vocab, n, k, true, false)); // gᵀ (V, R) · hc (R, K)
      for (let i = 0; i < dw.length; i++) dw[i]! += dwPart[i]!;
    }
  }
  return finish(h, w, loss / div, dh, dw);
}

/** Rows per chunk: CHUNK_VALUES of logits; a quantized head's QUANT_CHUNK_VALUES, balanced over `rows`. */
function defaultChunkRows(w: Tensor | QuantTensor, vocab: number, rows: number): number {
  if (!(w instanceof QuantTensor)) return Math.floor(CHUNK_VALUES / vocab);
  const most = Math.max(1, Math.floor(QUANT_CHUNK_VALUES / vocab));
  return Math.ceil(rows / Math.max(1, Math.ceil(rows / most)));
}

function finish(
  h: Tensor,
  w: Tensor | QuantTensor,
  loss: number,
  dh: Float32Array | null,
  dw: Float32Array | null,
): Tensor {
  const inputs = w instanceof Tensor ? [h, w] : [h];
  return withGrad(Tensor.scalar(loss), "linearCrossEntropy", inputs, (g) => {
    const s = g[0]!;
    return [dh ? scaled(dh, s) : null, dw ? scaled(dw, s) : null];
  });
}

/** The rows of one chunk gathered for the graphs: h's rows with a target, and those targets. */
interface ChunkRows {
  hc: Float32Array; // (R, K)
  labels: ChunkLabels;
}

function gatherChunk(
  hd: Float32Array,
  targets: Int32Array,
  active: Int32Array,
  c0: number,
  n: number,
  into: ChunkRows,
) {
  const k = into.hc.length / into.labels.t.length;
  for (let i = 0; i < n; i++) {
    const r = active[c0 + i]!;
    into.hc.set(hd.subarray(r * k, (r + 1) * k), i * k);
    into.labels.t[i] = BigInt(targets[r]!);
  }
  return into.hc.subarray(0, n * k);
}

/**
 * Sums a chunk's row losses (f64); a row whose −log softmax[t] came near f32 underflow in the graph
 * (loss > LOSS_RECOMPUTE_ABOVE) is redone exactly from its logits, which `logitsOf(i)` gives.
 */
function chunkLoss(
  rowLosses: Float32Array,
  n: number,
  targetOf: (i: number) => number,
  logitsOf: (i: number) => Float32Array,
) {
  let loss = 0;
  for (let i = 0; i < n; i++) {
    if (!(rowLosses[i]! <= LOSS_RECOMPUTE_ABOVE)) rowLosses[i] = rowLoss(logitsOf(i), targetOf(i), false, 1);
    loss += rowLosses[i]!;
  }
  return loss;
}

/**
 * The chunks through onnxruntime; returns the summed row losses (in f64) and fills dh, and dw when
 * given. dW accumulates inside the graph (dW_out = dW_in + Gᵀ·H) between two buffers in turn, so no
 * (V, K) sum runs in TypeScript.
 */
function ortChunks(
  hd: Float32Array,
  w: Tensor | QuantTensor,
  targets: Int32Array,
  active: Int32Array,
  chunk: number,
  scale: number,
  dh: Float32Array | null,
  dw: Float32Array | null,
): number {
  if (w instanceof QuantTensor) return quantHeadChunks(hd, w, targets, active, chunk, scale, dh);
  const [vocab, k] = w.shape as [number, number];
  const maxRows = Math.min(chunk, active.length);
  const rows: ChunkRows = {
    hc: alloc(maxRows * k),
    labels: { t: new BigInt64Array(maxRows), u: new Float32Array(dw ? maxRows : 0).fill(-scale), scale },
  };
  const rowLosses = new Float32Array(maxRows);
  const dhc = dh ? alloc(maxRows * k) : null;
  let rowLogits: Float32Array | undefined; // a row recomputed exactly (rare: made on first use)
  // dw starts at 0; each chunk reads one buffer and writes the other.
  let dwPair: { in: Float32Array; out: Float32Array } | null = dw ? { in: dw, out: new Float32Array(dw.length) } : null;
  let loss = 0;
  for (let c0 = 0; c0 < active.length; c0 += chunk) {
    const n = Math.min(chunk, active.length - c0);
    const h = gatherChunk(hd, targets, active, c0, n, rows);
    const dhn = dhc ? dhc.subarray(0, n * k) : null;
    ortHeadCrossEntropy(h, w.data, rows.labels, n, rowLosses, dhn, dwPair);
    if (dwPair) dwPair = { in: dwPair.out, out: dwPair.in };
    loss += chunkLoss(
      rowLosses,
      n,
      (i) => targets[active[c0 + i]!]!,
      (i) => {
        rowLogits ??= new Float32Array(vocab);
        headForward(h.subarray(i * k, (i + 1) * k), w, rowLogits, 1);
        return rowLogits;
      },
    );
    if (dh && dhn) for (let i = 0; i < n; i++) dh.set(dhn.subarray(i * k, (i + 1) * k), active[c0 + i]! * k);
  }
  if (dw && dwPair && dwPair.in !== dw) dw.set(dwPair.in); // the last sum landed in the spare buffer
  return loss;
}

/**
 * A frozen quantized head: each chunk's logits come from dequantized tiles of W, the graph gives the
 * row losses and the softmax, and dH = (softmax − one-hot)·W·scale runs over the same tiles. A pass
 * over W's tiles computes this chunk's logits and the previous chunk's dH together, so W is decoded
 * once per chunk, not twice (SmolLM-135M's Q8_0 head: ~14% of a QLoRA step was this decoding).
 * The logits equal qmatmulRaw's exact tiles, so eval and training see the same function.
 */
function quantHeadChunks(
  hd: Float32Array,
  w: QuantTensor,
  targets: Int32Array,
  active: Int32Array,
  chunk: number,
  scale: number,
  dh: Float32Array | null,
): number {
  const [vocab, k] = w.shape as [number, number];
  const maxRows = Math.min(chunk, active.length);
  const rows: ChunkRows = {
    hc: alloc(maxRows * k),
    labels: { t: new BigInt64Array(maxRows), u: new Float32Array(0), scale },
  };
  const rowLosses = new Float32Array(maxRows);
  const logits = alloc(maxRows * vocab);
  const probs = dh ? alloc(maxRows * vocab) : null; // softmax − one-hot of the pending chunk
  const dhc = dh ? alloc(maxRows * k) : null;
  const tiles = headTiles(w, maxRows);
  let pending: { c0: number; n: number } | null = null; // a chunk whose dH is still to run
  /** Scales the pending chunk's dH (now in dhc) and puts its rows in place. */
  const finish = ({ c0, n }: { c0: number; n: number }): void => {
    if (!dh || !dhc) return;
    for (let i = 0; i < n * k; i++) dhc[i]! *= scale;
    for (let i = 0; i < n; i++) dh.set(dhc.subarray(i * k, (i + 1) * k), active[c0 + i]! * k);
  };
  let loss = 0;
  for (let c0 = 0; c0 < active.length; c0 += chunk) {
    const n = Math.min(chunk, active.length - c0);
    const h = gatherChunk(hd, targets, active, c0, n, rows);
    const x = logits.subarray(0, n * vocab);
    tiles.pass({ h, n, out: x }, pending && probs && dhc ? { g: probs, n: pending.n, out: dhc } : null);
    if (pending) finish(pending);
    const pn = probs ? probs.subarray(0, n * vocab) : null;
    ortLogitsCrossEntropy(x, rows.labels, n, rowLosses, pn); // pn = softmax
    loss += chunkLoss(
      rowLosses,
      n,
      (i) => targets[active[c0 + i]!]!,
      (i) => x.subarray(i * vocab, (i + 1) * vocab),
    );
    if (pn) for (let i = 0; i < n; i++) pn[i * vocab + Number(rows.labels.t[i])]! -= 1; // − one-hot
    pending = pn ? { c0, n } : null;
  }
  if (pending && probs && dhc) {
    tiles.pass(null, { g: probs, n: pending.n, out: dhc });
    finish(pending);
  }
  return loss;
}

/**
 * Passes over W's rows a dequantized tile at a time: `fwd.out` (n, V) = h · Wᵀ and/or `bwd.out` (n, K)
 * = g (n, V) · W, sharing each tile's decoding. Tiles and scratch are made once per call of the head.
 */
function headTiles(w: QuantTensor, maxRows: number) {
  const [vocab, k] = w.shape as [number, number];
  const tileRows = Math.max(1, Math.min(vocab, Math.floor(TILE_VALUES / k)));
  const tile = alloc(tileRows * k); // (rows, K)
  const part = alloc(maxRows * Math.max(tileRows, k)); // (R, rows) logits or (R, K) dH part
  const gTile = alloc(maxRows * tileRows); // (R, rows): g's columns of this tile
  return {
    pass(
      fwd: { h: Float32Array; n: number; out: Float32Array } | null,
      bwd: { g: Float32Array; n: number; out: Float32Array } | null,
    ): void {
      if (bwd) bwd.out.fill(0, 0, bwd.n * k);
      for (let v0 = 0; v0 < vocab; v0 += tileRows) {
        const rows = Math.min(tileRows, vocab - v0);
        const wt = tile.subarray(0, rows * k);
        w.dequantizeRows(v0, v0 + rows, wt);
        if (fwd) {
          const p = part.subarray(0, fwd.n * rows);
          matmulKernel(fwd.h, wt, p, dims(fwd.n, k, rows, false, true)); // (n, rows) = h · tileᵀ
          for (let i = 0; i < fwd.n; i++) fwd.out.set(p.subarray(i * rows, (i + 1) * rows), i * vocab + v0);
        }
        if (bwd) {
          const gt = gTile.subarray(0, bwd.n * rows);
          for (let i = 0; i < bwd.n; i++) gt.set(bwd.g.subarray(i * vocab + v0, i * vocab + v0 + rows), i * rows);
          const p = part.subarray(0, bwd.n * k);
          matmulKernel(gt, wt, p, dims(bwd.n, rows, k, false, false)); // (n, K) = gTile · tile
          const out = bwd.out;
          for (let i = 0; i < p.length; i++) out[i]! += p[i]!;
        }
      }
    },
  };
}

/** Indices of rows whose target is not ignored; a target outside [0, V) is an error naming its row. */
function activeRows(targets: Int32Array, ignore: number, vocab: number, hShape: readonly number[]): Int32Array {
  const out: number[] = [];
  for (let r = 0; r < targets.length; r++) {
    const t = targets[r]!;
    if (t === ignore) continue;
    if (t < 0 || t >= vocab) {
      throw new InfuseError(
        "tensor.index_out_of_range",
        `linearCrossEntropy: target ${t} at row ${r} is outside [0, ${vocab}) for h ${shapeStr(hShape)}`,
        { kind: "input", hint: `targets must be token ids below the vocabulary size, or ${ignore} to skip` },
      );
    }
    out.push(r);
  }
  return Int32Array.from(out);
}

/**
 * −log softmax(x)[t] by log-sum-exp with the max subtracted (sums in f64). With `grad`, x is overwritten
 * with (softmax(x) − onehot(t))·scale: the exponentials of the sum are reused, so one exp per logit.
 */
function rowLoss(x: Float32Array, t: number, grad: boolean, scale: number): number {
  let max = -Infinity;
  for (let j = 0; j < x.length; j++) if (x[j]! > max) max = x[j]!;
  const target = x[t]!;
  let sum = 0;
  if (grad) {
    for (let j = 0; j < x.length; j++) {
      const e = Math.exp(x[j]! - max);
      x[j] = e;
      sum += e;
    }
    const inv = scale / sum;
    for (let j = 0; j < x.length; j++) x[j]! *= inv;
    x[t]! -= scale;
  } else {
    for (let j = 0; j < x.length; j++) sum += Math.exp(x[j]! - max);
  }
  return max + Math.log(sum) - target;
}

const dims = (m: number, k: number, n: number, transA: boolean, transB: boolean): MatmulDims => ({
  batch: 1,
  m,
  k,
  n,
  transA,
  transB,
  bBatched: true,
});

/** out (R, V) = hc (R, K) · Wᵀ */
function headForward(hc: Float32Array, w: Tensor | QuantTensor, out: Float32Array, n: number): void {
  if (w instanceof QuantTensor) return qmatmulRaw(hc, w, out, n, { exact: true }); // no int8 activations
  const [vocab, k] = w.shape as [number, number];
  matmulKernel(hc, w.data, out, dims(n, k, vocab, false, true));
}

/** Rows of W per dequantized tile in headBackward (4 MiB of f32, as qmatmul's tiles). */
const TILE_VALUES = 1 << 20;

/** A function out (R, K) = g (R, V) · W; a QuantTensor W is dequantized a tile of rows at a time. */
function headBackward(
  w: Tensor | QuantTensor,
  maxRows: number,
): (g: Float32Array, out: Float32Array, n: number) => void {
  const [vocab, k] = w.shape as [number, number];
  if (!(w instanceof QuantTensor)) {
    return (g, out, n) => matmulKernel(g, w.data, out, dims(n, vocab, k, false, false));
  }
  const tileRows = Math.max(1, Math.min(vocab, Math.floor(TILE_VALUES / k)));
  const tile = new Float32Array(tileRows * k); // (rows, K)
  const gTile = new Float32Array(maxRows * tileRows); // (R, rows): g's columns of this tile
  const part = new Float32Array(maxRows * k);
  return (g, out, n) => {
    out.fill(0);
    for (let v0 = 0; v0 < vocab; v0 += tileRows) {
      const rows = Math.min(tileRows, vocab - v0);
      w.dequantizeRows(v0, v0 + rows, tile.subarray(0, rows * k));
      for (let i = 0; i < n; i++) gTile.set(g.subarray(i * vocab + v0, i * vocab + v0 + rows), i * rows);
      const p = part.subarray(0, n * k);
      matmulKernel(gTile.subarray(0, n * rows), tile.subarray(0, rows * k), p, dims(n, rows, k, false, false));
      for (let i = 0; i < p.length; i++) out[i]! += p[i]!;
    }
  };
}

function scaled(a: Float32Array, s: number): Float32Array {
  const out = alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * s;
  return out;
}
