// Embedding lookup from a frozen quantized table (GGUF token_embd is often Q8_0/Q4_K/F16): only the
// rows looked up are dequantized. No gradient: a frozen table has none (train an f32 table instead).
import { InfuseError } from "../../core/errors.js";
import { Tensor } from "../tensor.js";
import { shapeError, shapeStr } from "../shape.js";
import { QuantTensor } from "./formats.js";

/** out[…ids shape, D] = dequant(table)[ids[…], :]. table: (V, D). */
export function qembedding(table: QuantTensor, ids: Int32Array, idsShape: readonly number[] = [ids.length]): Tensor {
  if (!(table instanceof QuantTensor) || !(ids instanceof Int32Array)) {
    throw new InfuseError("tensor.wrong_dtype", "qembedding: needs a QuantTensor table and Int32Array ids", {
      kind: "input",
      hint: "use embedding(table, ids) for an f32 table; pass ids as Int32Array.from(ids)",
    });
  }
  if (table.shape.length !== 2 || idsShape.reduce((a, b) => a * b, 1) !== ids.length) {
    throw shapeError(
      "qembedding",
      "table must be (V, D) and ids must fill idsShape",
      [table.shape, idsShape],
      "pass a (vocab, dim) table",
    );
  }
  const rows = table.rows;
  const dim = table.rowLength;
  const out = new Float32Array(ids.length * dim); // (N, D)
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= rows) {
      throw new InfuseError(
        "tensor.index_out_of_range",
        `qembedding: id ${id} at position ${i} is outside [0, ${rows}) for table ${shapeStr(table.shape)}`,
        {
          kind: "input",
          hint: "token ids must be smaller than the vocabulary size",
        },
      );
    }
    table.dequantizeRows(id, id + 1, out.subarray(i * dim, (i + 1) * dim));
  }
  return new Tensor(out, [...idsShape, dim]);
}
