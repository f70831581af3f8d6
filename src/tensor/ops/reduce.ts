// Reductions along one axis (or all): sum, mean, max, with keepDims, and their gradients.
// max sends the gradient to the first maximal element of each row (as PyTorch does for ties).
import { Tensor, withGrad } from "../tensor.js";
import { normAxis } from "../shape.js";

export interface ReduceOptions {
  /** Axis to reduce; omitted = all elements. Negative counts from the end. */
  axis?: number;
  keepDims?: boolean;
}

/** Splits a shape around an axis into (outer, len, inner) so element (o, j, i) is at (o·len + j)·inner + i. */
export function axisView(shape: readonly number[], axis: number): { outer: number; len: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, len: shape[axis] ?? 1, inner };
}

function plan(op: string, x: Tensor, options: ReduceOptions) {
  if (options.axis === undefined) {
    return { outer: 1, len: x.size, inner: 1, outShape: options.keepDims ? x.shape.map(() => 1) : [] };
  }
  const axis = normAxis(op, options.axis, x.ndim);
  const outShape = options.keepDims
    ? x.shape.map((d, i) => (i === axis ? 1 : d))
    : x.shape.filter((_, i) => i !== axis);
  return { ...axisView(x.shape, axis), outShape };
}

export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { outer, len, inner, outShape } = plan("sum", x, options);
  const xd = x.data;
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < len; j++) {
      const base = (o * len + j) * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i]! += xd[base + i]!;
    }
  }
  const size = x.size;
  return withGrad(new Tensor(out, outShape), "sum", [x], (g) => {
    const gx = new Float32Array(size);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < len; j++) gx.set(g.subarray(o * inner, (o + 1) * inner), (o * len + j) * inner);
    }
    return [gx];
  });
}

export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { len } = plan("mean", x, options);
  const s = sum(x, options);
  const inv = 1 / len;
  const out = s.data.map((v) => v * inv);
  return withGrad(new Tensor(out, s.shape), "mean", [s], (g) => [g.map((v) => v * inv)]);
}

export function max(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { outer, len, inner, outShape } = plan("max", x, options);
  const xd = x.data;
  const out = new Float32Array(outer * inner).fill(-Infinity);
  const arg = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < len; j++) {
      const base = (o * len + j) * inner;
      for (let i = 0; i < inner; i++) {
        const v = xd[base + i]!;
        if (v > out[o * inner + i]!) {
          out[o * inner + i] = v;
          arg[o * inner + i] = j;
        }
      }
    }
  }
  const size = x.size;
  return withGrad(new Tensor(out, outShape), "max", [x], (g) => {
    const gx = new Float32Array(size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) gx[(o * len + arg[o * inner + i]!) * inner + i] = g[o * inner + i]!;
    }
    return [gx];
  });
}
