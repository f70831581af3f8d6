// Layout ops: reshape (a view sharing storage), permute/transpose, slice along an axis, concat.
// permute, slice and concat copy into contiguous storage; strided views are left to matmul's flags.
import { Tensor, withGrad } from "../tensor.js";
import { normAxis, numel, shapeError, stridesOf } from "../shape.js";
import { axisView } from "./reduce.js";

/** Same values, new shape (one dim may be -1). Shares storage with the input. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const rest = x.size / numel(known);
  const resolved = shape.map((d) => (d === -1 ? rest : d));
  if (shape.filter((d) => d === -1).length > 1 || numel(resolved) !== x.size || !Number.isInteger(rest)) {
    throw shapeError(
      "reshape",
      `cannot view ${x.size} values as (${shape.join(", ")})`,
      [x.shape],
      "keep the element count equal",
    );
  }
  return withGrad(new Tensor(x.data, resolved), "reshape", [x], (g) => [g]);
}

/** Reorders dims: out dim i is input dim perm[i]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const rank = x.ndim;
  const p = perm.map((a) => normAxis("permute", a, rank));
  if (p.length !== rank || new Set(p).size !== rank) {
    throw shapeError(
      "permute",
      `perm [${perm.join(", ")}] is not a permutation of ${rank} dims`,
      [x.shape],
      "list every axis once",
    );
  }
  const outShape = p.map((a) => x.shape[a]!);
  const out = gatherPermuted(x.data, x.shape, p);
  const inverse = new Array<number>(rank);
  p.forEach((a, i) => (inverse[a] = i));
  return withGrad(new Tensor(out, outShape), "permute", [x], (g) => [gatherPermuted(g, outShape, inverse)]);
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = normAxis("transpose", a, x.ndim);
  const j = normAxis("transpose", b, x.ndim);
  perm[i] = j;
  perm[j] = i;
  return permute(x, perm);
}

function gatherPermuted(src: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((a) => shape[a]!);
  const s = perm.map((a) => inStrides[a]!); // input stride for each output dim
  const out = new Float32Array(src.length);
  const idx = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const lastLen = outShape[last] ?? 1;
  const lastStride = s[last] ?? 1;
  let base = 0;
  for (let o = 0; o < out.length; o += lastLen) {
    for (let i = 0; i < lastLen; i++) out[o + i] = src[base + i * lastStride]!;
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      base += s[d]!;
      if (idx[d]! < outShape[d]!) break;
      base -= s[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** Elements [start, end) along `axis`. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis("slice", axis, x.ndim);
  const { outer, len, inner } = axisView(x.shape, a);
  if (!(0 <= start && start <= end && end <= len)) {
    throw shapeError(
      "slice",
      `range [${start}, ${end}) on axis ${a} of length ${len}`,
      [x.shape],
      "keep 0 ≤ start ≤ end ≤ dim",
    );
  }
  const width = end - start;
  const out = new Float32Array(outer * width * inner);
  const xd = x.data;
  for (let o = 0; o < outer; o++) {
    out.set(xd.subarray((o * len + start) * inner, (o * len + end) * inner), o * width * inner);
  }
  const outShape = x.shape.map((d, i) => (i === a ? width : d));
  const size = x.size;
  return withGrad(new Tensor(out, outShape), "slice", [x], (g) => {
    const gx = new Float32Array(size);
    for (let o = 0; o < outer; o++)
      gx.set(g.subarray(o * width * inner, (o + 1) * width * inner), (o * len + start) * inner);
    return [gx];
  });
}

/** Joins tensors along `axis`; all other dims must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const first = xs[0];
  if (!first) throw shapeError("concat", "no tensors given", [], "pass at least one tensor");
  const a = normAxis("concat", axis, first.ndim);
  for (const t of xs) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw shapeError(
        "concat",
        `dims other than axis ${a} differ`,
        xs.map((x) => x.shape),
        "match every dim except the concat axis",
      );
    }
  }
  const lens = xs.map((t) => t.shape[a]!);
  const total = lens.reduce((p, q) => p + q, 0);
  const { outer, inner } = axisView(first.shape, a);
  const out = new Float32Array(outer * total * inner);
  let offset = 0;
  xs.forEach((t, k) => {
    const len = lens[k]!;
    for (let o = 0; o < outer; o++) {
      out.set(t.data.subarray(o * len * inner, (o + 1) * len * inner), (o * total + offset) * inner);
    }
    offset += len;
  });
  const outShape = first.shape.map((d, i) => (i === a ? total : d));
  const sizes = xs.map((t) => t.size);
  return withGrad(new Tensor(out, outShape), "concat", [...xs], (g) => {
    let off = 0;
    return xs.map((_t, k) => {
      const len = lens[k]!;
      const gx = new Float32Array(sizes[k]!);
      for (let o = 0; o < outer; o++)
        gx.set(g.subarray((o * total + off) * inner, (o * total + off + len) * inner), o * len * inner);
      off += len;
      return gx;
    });
  });
}
