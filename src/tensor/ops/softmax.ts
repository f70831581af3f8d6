// Numerically stable softmax and log-softmax along one axis (max subtracted first), and
// cross-entropy over the last axis with an ignore index for prompt masking. Rows that are all −∞ give 0.
import { InfuseError } from "../../core/errors.js";
import { Tensor, withGrad } from "../tensor.js";
import { normAxis, shapeError, shapeStr } from "../shape.js";
import { axisView } from "./reduce.js";

/** Calls fn(base, stride) for every 1-D line along `axis`. */
function forEachLine(
  shape: readonly number[],
  axis: number,
  fn: (base: number, stride: number, len: number) => void,
): void {
  const { outer, len, inner } = axisView(shape, axis);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) fn(o * len * inner + i, inner, len);
}

export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis("softmax", axis, x.ndim);
  const xd = x.data;
  const y = new Float32Array(x.size);
  forEachLine(x.shape, a, (base, stride, len) => {
    let max = -Infinity;
    for (let j = 0; j < len; j++) max = Math.max(max, xd[base + j * stride]!);
    if (max === -Infinity) return; // fully masked line: zeros
    let sum = 0;
    for (let j = 0; j < len; j++) {
      const e = Math.exp(xd[base + j * stride]! - max);
      y[base + j * stride] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < len; j++) y[base + j * stride]! *= inv;
  });
  const [xShape, xShapeSize] = [x.shape, x.size];
  return withGrad(new Tensor(y, x.shape), "softmax", [x], (g) => {
    // dx = y ⊙ (g − Σ g·y)
    const gx = new Float32Array(xShapeSize);
    forEachLine(xShape, a, (base, stride, len) => {
      let dot = 0;
      for (let j = 0; j < len; j++) dot += g[base + j * stride]! * y[base + j * stride]!;
      for (let j = 0; j < len; j++) gx[base + j * stride] = y[base + j * stride]! * (g[base + j * stride]! - dot);
    });
    return [gx];
  });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis("logSoftmax", axis, x.ndim);
  const xd = x.data;
  const y = new Float32Array(x.size);
  forEachLine(x.shape, a, (base, stride, len) => {
    let max = -Infinity;
    for (let j = 0; j < len; j++) max = Math.max(max, xd[base + j * stride]!);
    let sum = 0;
    for (let j = 0; j < len; j++) sum += Math.exp(xd[base + j * stride]! - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < len; j++) y[base + j * stride] = xd[base + j * stride]! - lse;
  });
  const [xShape, xShapeSize] = [x.shape, x.size];
  return withGrad(new Tensor(y, x.shape), "logSoftmax", [x], (g) => {
    // dx = g − softmax · Σ g
    const gx = new Float32Array(xShapeSize);
    forEachLine(xShape, a, (base, stride, len) => {
      let total = 0;
      for (let j = 0; j < len; j++) total += g[base + j * stride]!;
      for (let j = 0; j < len; j++)
        gx[base + j * stride] = g[base + j * stride]! - Math.exp(y[base + j * stride]!) * total;
    });
    return [gx];
  });
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (prompt tokens, padding). Default −100, as in PyTorch. */
  ignoreIndex?: number;
  reduction?: "mean" | "sum";
}

/**
 * Cross-entropy of logits (…, V) against integer targets (one per row). "mean" divides by the number
 * of targets not ignored; when every target is ignored the loss and its gradient are 0.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, options: CrossEntropyOptions = {}): Tensor {
  const ignore = options.ignoreIndex ?? -100;
  const vocab = logits.shape[logits.ndim - 1] ?? 0;
  const rows = logits.size / Math.max(vocab, 1);
  if (logits.ndim < 1 || rows !== targets.length) {
    throw shapeError(
      "crossEntropy",
      `${targets.length} targets for ${rows} rows of logits`,
      [logits.shape, [targets.length]],
      "give one target per row of logits (…, V)",
    );
  }
  const xd = logits.data;
  const lse = new Float64Array(rows);
  let loss = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t === ignore) continue;
    if (t < 0 || t >= vocab) {
      throw new InfuseError(
        "tensor.index_out_of_range",
        `crossEntropy: target ${t} at row ${r} is outside [0, ${vocab}) for logits ${shapeStr(logits.shape)}`,
        {
          kind: "input",
          hint: `targets must be token ids below the vocabulary size, or ${ignore} to skip`,
        },
      );
    }
    const base = r * vocab;
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, xd[base + j]!);
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(xd[base + j]! - max);
    lse[r] = max + Math.log(sum);
    loss += lse[r]! - xd[base + t]!;
    count++;
  }
  const div = options.reduction === "sum" ? 1 : Math.max(count, 1);
  const size = logits.size; // the logits array itself is kept: softmax is recomputed from it
  return withGrad(Tensor.scalar(loss / div), "crossEntropy", [logits], (g) => {
    // d loss / d logit = (softmax − onehot) · g / div on rows not ignored
    const gx = new Float32Array(size);
    const s = g[0]! / div;
    for (let r = 0; r < rows; r++) {
      const t = targets[r]!;
      if (t === ignore) continue;
      const base = r * vocab;
      for (let j = 0; j < vocab; j++) gx[base + j] = Math.exp(xd[base + j]! - lse[r]!) * s;
      gx[base + t]! -= s;
    }
    return [gx];
  });
}
