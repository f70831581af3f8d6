// Shape arithmetic shared by the ops: element counts, strides, axis normalisation, broadcasting,
// and the errors that name an op and its shapes. No tensor data is touched here.
import { InfuseError } from "../core/errors.js";

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `(${shape.join(", ")})`;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function shapeError(
  op: string,
  what: string,
  shapes: readonly (readonly number[])[],
  hint: string,
): InfuseError {
  return new InfuseError("tensor.shape_mismatch", `${op}: ${what} (shapes ${shapes.map(shapeStr).join(", ")})`, {
    kind: "input",
    hint,
    details: { op, shapes: shapes.map((s) => [...s]) },
  });
}

/** Resolves a possibly negative axis against a rank. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    throw new InfuseError("tensor.bad_axis", `${op}: axis ${axis} is out of range for rank ${rank}`, {
      kind: "input",
      hint: `use an axis in [-${rank}, ${rank - 1}]`,
    });
  }
  return a;
}

/** NumPy broadcasting of two shapes, or a shape_mismatch naming the op. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw shapeError(
        op,
        `cannot broadcast dim ${da} against ${db}`,
        [a, b],
        "make the dims equal or 1 (NumPy broadcasting)",
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` read as broadcast to `target` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const own = stridesOf(shape);
  const off = target.length - shape.length;
  return target.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : own[i - off]!));
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Sums a gradient of shape `from` down to the broadcast source shape `to`. */
export function reduceToShape(g: Float32Array, from: readonly number[], to: readonly number[]): Float32Array {
  if (sameShape(from, to)) return g;
  const out = new Float32Array(numel(to));
  const strides = broadcastStrides(to, from);
  const rank = from.length;
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < g.length; i++) {
    out[o]! += g[i]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      o += strides[d]!;
      if (idx[d]! < from[d]!) break;
      o -= strides[d]! * from[d]!;
      idx[d] = 0;
    }
  }
  return out;
}
