// What a quantized model keeps in memory: Q4_0 matrices live once, in onnxruntime's MatMulNBits
// kernels, after their first use; our bytes are read back from the GGUF only if something needs them.
import { appendFileSync, copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { GgmlType } from "../../src/formats/gguf/index.js";
import { loadLlamaGguf } from "../../src/models/llama/load.js";
import type { QuantTensor } from "../../src/tensor/index.js";
import { Tensor } from "../../src/tensor/index.js";
import { qmatmul } from "../../src/tensor/quant/qmatmul.js";
import { rewriteGguf } from "./gguf-rewrite.js";
import { greedy } from "./helpers.js";
import { writeTinyLlamaF32Gguf } from "./tiny-decoders.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-llama-resident-"));
let q4Path: string;

beforeAll(async () => {
  const f32 = await writeTinyLlamaF32Gguf(tmp);
  q4Path = await rewriteGguf(f32, path.join(tmp, "q4_0.gguf"), { matrixType: GgmlType.Q4_0 });
});

describe("resident weights", () => {
  it("Q4_0: generation drops our copy; the same logits and a backward pass read the file again", async () => {
    const { model, tokenizer } = await loadLlamaGguf(q4Path);
    const ids = tokenizer.encode("Once upon a time");
    const first = greedy(model, ids, 4);
    const layer = model.weights.layers[0]!;
    const q = layer.q.weight as QuantTensor;
    expect(q.resident).toBe(false);
    expect((layer.down.weight as QuantTensor).resident).toBe(false);
    expect(greedy(model, ids, 4).tokens).toEqual(first.tokens); // kernels kept: nothing reloaded
    expect(q.resident).toBe(false);
    // The backward dequantizes W: the bytes come back from the file, equal to a fresh load's.
    const fresh = (await loadLlamaGguf(q4Path)).model.weights.layers[0]!.q.weight as QuantTensor;
    const x = new Tensor(
      Float32Array.from({ length: 2 * q.rowLength }, (_, i) => Math.sin(i)),
      [2, q.rowLength],
      true,
    );
    qmatmul(x, q).backward({ grad: new Float32Array(2 * q.rows).fill(1) });
    expect(q.resident).toBe(true);
    expect(Buffer.from(q.bytes).equals(Buffer.from(fresh.bytes))).toBe(true);
    expect(x.grad!.data.every(Number.isFinite)).toBe(true);
  });

  it("the quantized token table stays in its file: each lookup reads one row, the logits are unchanged", async () => {
    const { model, tokenizer } = await loadLlamaGguf(q4Path);
    const table = model.weights.tokenEmbd as QuantTensor;
    expect(table.resident).toBe(false); // released as soon as it loaded
    const ids = tokenizer.encode("Once upon a time");
    const lazy = greedy(model, ids, 4);
    expect(table.resident).toBe(false); // looked up row by row (an untied table has no kernel)
    const held = (await loadLlamaGguf(q4Path)).model;
    void (held.weights.tokenEmbd as QuantTensor).bytes; // read back whole: the table resident, as before
    const eager = greedy(held, ids, 4);
    expect(lazy.tokens).toEqual(eager.tokens);
    lazy.logits.forEach((l, i) => expect(Array.from(l)).toEqual(Array.from(eager.logits[i]!)));
  });

  it("a file changed after loading is model.file_changed, not silently different weights", async () => {
    const file = path.join(tmp, "changing.gguf");
    copyFileSync(q4Path, file);
    const { model, tokenizer } = await loadLlamaGguf(file);
    greedy(model, tokenizer.encode("Once"), 1);
    const w = model.weights.layers[0]!.k.weight as QuantTensor;
    expect(w.resident).toBe(false);
    appendFileSync(file, Buffer.alloc(32));
    expect(() => w.dequantize()).toThrow(expect.objectContaining({ code: "model.file_changed" }));
  });
});
