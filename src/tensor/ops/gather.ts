// Embedding lookup (gather rows of a table by integer ids) and scatter-add, which is its gradient.
// Ids are an Int32Array with their own shape; they carry no gradient.
import { InfuseError } from "../../core/errors.js";
import { Tensor, withGrad } from "../tensor.js";
import { shapeError, shapeStr } from "../shape.js";

/** Adds each row of `src` (n, D) into row ids[i] of a fresh (rows, D) array. */
export function scatterAddRows(src: Float32Array, ids: Int32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i]! * dim;
    const s = i * dim;
    for (let j = 0; j < dim; j++) out[r + j]! += src[s + j]!;
  }
  return out;
}

function checkIds(op: string, ids: Int32Array, rows: number, table: readonly number[]): void {
  if (!(ids instanceof Int32Array)) {
    throw new InfuseError("tensor.wrong_dtype", `${op}: ids must be an Int32Array (table ${shapeStr(table)})`, {
      kind: "input",
      hint: "pass token ids as Int32Array.from(ids)",
    });
  }
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= rows) {
      throw new InfuseError(
        "tensor.index_out_of_range",
        `${op}: id ${id} at position ${i} is outside [0, ${rows}) for table ${shapeStr(table)}`,
        {
          kind: "input",
          hint: "token ids must be smaller than the vocabulary size",
          details: { op, id, position: i, rows },
        },
      );
    }
  }
}

/** out[…ids shape, D] = table[ids[…], :]. table: (V, D). */
export function embedding(table: Tensor, ids: Int32Array, idsShape: readonly number[] = [ids.length]): Tensor {
  if (table.ndim !== 2)
    throw shapeError("embedding", "table must be 2-D (V, D)", [table.shape], "pass a (vocab, dim) matrix");
  const [rows, dim] = table.shape as [number, number];
  if (idsShape.reduce((a, b) => a * b, 1) !== ids.length) {
    throw shapeError(
      "embedding",
      `ids length ${ids.length} does not fit its shape`,
      [table.shape, idsShape],
      "give idsShape matching ids",
    );
  }
  checkIds("embedding", ids, rows, table.shape);
  const td = table.data;
  const out = new Float32Array(ids.length * dim); // (N, D)
  for (let i = 0; i < ids.length; i++) out.set(td.subarray(ids[i]! * dim, (ids[i]! + 1) * dim), i * dim);
  return withGrad(new Tensor(out, [...idsShape, dim]), "embedding", [table], (g) => [
    scatterAddRows(g, ids, rows, dim),
  ]);
}

/** out = base with rows of `src` (N, D) added at rows ids (N): differentiable in both base and src. */
export function scatterAdd(base: Tensor, ids: Int32Array, src: Tensor): Tensor {
  if (base.ndim !== 2 || src.ndim !== 2 || src.shape[1] !== base.shape[1] || src.shape[0] !== ids.length) {
    throw shapeError(
      "scatterAdd",
      `src must be (${ids.length}, D) with D of base`,
      [base.shape, src.shape],
      "pass base (R, D), src (N, D), N ids",
    );
  }
  const [rows, dim] = base.shape as [number, number];
  checkIds("scatterAdd", ids, rows, base.shape);
  const out = scatterAddRows(src.data, ids, rows, dim);
  const bd = base.data;
  for (let i = 0; i < out.length; i++) out[i]! += bd[i]!;
  const srcSize = src.size;
  return withGrad(new Tensor(out, base.shape), "scatterAdd", [base, src], (g) => {
    const gs = new Float32Array(srcSize);
    for (let i = 0; i < ids.length; i++) gs.set(g.subarray(ids[i]! * dim, (ids[i]! + 1) * dim), i * dim);
    return [g, gs];
  });
}
