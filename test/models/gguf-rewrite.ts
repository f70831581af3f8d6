// Copies a GGUF with extra metadata and/or its matrices re-stored in another type (Q8_0, Q4_0 by our
// writer; Q4_K by the engine's quantizer), so the same weights can be compared across storage types.
import { GgmlType, openGguf, writeGguf, type GgufKV, type GgufTensorInput } from "../../src/formats/gguf/index.js";
import { quantize } from "../../src/tensor/index.js";

export interface RewriteOptions {
  metadata?: Map<string, GgufKV>;
  /** Type of every 2-D tensor whose rows fit the type's blocks (others keep their type). */
  matrixType?: GgmlType;
  /** Tensors written in name order (as llama.cpp's converter writes a layer's: k, norm, output, q, v), not the source's. */
  sortByName?: boolean;
}

export async function rewriteGguf(src: string, dst: string, o: RewriteOptions): Promise<string> {
  const file = await openGguf(src);
  try {
    const metadata = new Map([...file.metadata, ...(o.metadata ?? [])]);
    const tensors: GgufTensorInput[] = [];
    const order = o.sortByName ? [...file.tensors].sort((a, b) => (a.name < b.name ? -1 : 1)) : file.tensors;
    for (const t of order) {
      const block = o.matrixType === GgmlType.Q4_K ? 256 : 32;
      const type = o.matrixType;
      if (type === undefined || t.dims.length !== 2 || t.dims[0]! % block !== 0) {
        tensors.push({ name: t.name, dims: t.dims, type: t.type, bytes: await file.readTensorBytes(t.name) });
      } else if (type === GgmlType.Q4_K) {
        const values = await file.readTensorF32(t.name);
        const q = quantize("q4_k", values, [t.dims[1]!, t.dims[0]!]);
        tensors.push({ name: t.name, dims: t.dims, type, bytes: q.bytes });
      } else tensors.push({ name: t.name, dims: t.dims, type, data: await file.readTensorF32(t.name) });
    }
    await writeGguf(dst, { metadata, tensors });
    return dst;
  } finally {
    file.close();
  }
}
