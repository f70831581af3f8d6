// How quantized weights reach onnxruntime without copies left for the collector: initializers written
// straight from GGUF blocks into the encoded model (fills), an output head in row slices, and the
// loader's bytes handed back to the system the moment a kernel holds them (droppable buffers).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { GgmlType } from "../../src/formats/gguf/index.js";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlamaGguf } from "../../src/models/llama/load.js";
import { QuantTensor, quantize } from "../../src/tensor/index.js";
import { encodeOnnxModel, type OnnxFill } from "../../src/tensor/kernels/onnx-model.js";
import { ortAvailable, ortQuantWeight, type NBitsWeight } from "../../src/tensor/kernels/ort.js";
import { droppableBytes } from "../../src/tensor/droppable.js";
import { dropBytes, toNBits } from "../../src/tensor/quant/nbits.js";
import { Rng, randn } from "../../src/tensor/rng.js";
import { rewriteGguf } from "./gguf-rewrite.js";
import { writeTinyLlamaF32Gguf } from "./tiny-decoders.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-llama-build-memory-"));
let q4Path: string;

beforeAll(async () => {
  const f32 = await writeTinyLlamaF32Gguf(tmp);
  q4Path = await rewriteGguf(f32, path.join(tmp, "q4_0.gguf"), { matrixType: GgmlType.Q4_0 });
});

const bytesOf = (fill: Uint8Array | Float32Array | OnnxFill): Uint8Array => {
  if (ArrayBuffer.isView(fill)) return new Uint8Array(fill.buffer, fill.byteOffset, fill.byteLength);
  const out = new Uint8Array(fill.byteLength);
  fill.write(out);
  return out;
};

describe("building quantized sessions", () => {
  it("encodes a filled initializer into the caller's buffer, byte for byte as the array would be", () => {
    const data = Float32Array.from({ length: 300 }, (_, i) => i / 7);
    const spec = (d: Float32Array | OnnxFill) => ({
      opset: 17,
      inputs: [{ name: "A", type: "float" as const, dims: [300] }],
      outputs: [{ name: "Y", type: "float" as const, dims: [300] }],
      initializers: [{ name: "W", dims: [300], data: d, type: "float" as const }],
      nodes: [{ op: "Add", inputs: ["A", "W"], outputs: ["Y"] }],
    });
    const plain = encodeOnnxModel(spec(data));
    const scratch = new Uint8Array(plain.byteLength + 64);
    const fill: OnnxFill = { byteLength: data.byteLength, write: (dst) => dst.set(bytesOf(data)) };
    const filled = encodeOnnxModel(spec(fill), (n) => scratch.subarray(0, n));
    expect(filled.buffer).toBe(scratch.buffer);
    expect(filled).toEqual(plain);
  });

  it("stacks and slices MatMulNBits forms from GGUF blocks, and sliced sessions agree with one node", () => {
    const rng = new Rng(3);
    const [a, b] = [quantize("q8_0", randn(rng, 96 * 64), [96, 64]), quantize("q8_0", randn(rng, 32 * 64), [32, 64])];
    const stacked = toNBits([a, b])!;
    const parts = [toNBits(a, { start: 0, end: 40 })!, toNBits(a, { start: 40, end: 96 })!, toNBits(b)!];
    expect(stacked.n).toBe(128);
    const cat = (key: "packed" | "scales") => Buffer.concat(parts.map((p) => bytesOf(p[key])));
    expect(Buffer.from(bytesOf(stacked.packed)).equals(cat("packed"))).toBe(true);
    expect(Buffer.from(bytesOf(stacked.scales)).equals(cat("scales"))).toBe(true);
    if (!ortAvailable()) return;
    const x = randn(rng, 3 * 64);
    const run = (w: NBitsWeight | NBitsWeight[]) => {
      const out = new Float32Array(3 * 128);
      const k = ortQuantWeight(w, 0);
      k.run(x, 3, out);
      k.dispose();
      return out;
    };
    expect(run(parts)).toEqual(run(stacked));
  });

  it("drops the loader's bytes at once and reads them back from the file when asked", () => {
    const bytes = droppableBytes(34 * 4);
    bytes.fill(7);
    const w = new QuantTensor("q8_0", [4, 32], bytes, () => new Uint8Array(34 * 4).fill(7));
    expect(dropBytes(w)).toBe(true);
    expect(bytes.buffer.byteLength).toBe(0); // the pages went back with the resize, not at a GC
    expect(w.bytes.every((v) => v === 7)).toBe(true);
    const held = new QuantTensor("q8_0", [4, 32], new Uint8Array(34 * 4)); // no file: kept
    expect(dropBytes(held)).toBe(false);
    expect(held.resident).toBe(true);
  });

  it("a Q4_0 decoder's first token builds every layer's session and drops every layer's bytes", async () => {
    const { model } = await loadLlamaGguf(q4Path);
    const dec = new LlamaDecoder(model);
    const first = dec.eval([1, 5, 9]);
    for (const layer of model.weights.layers) {
      for (const name of ["q", "k", "v", "o", "gate", "up", "down"] as const)
        expect((layer[name].weight as QuantTensor).resident).toBe(!ortAvailable());
    }
    dec.cache.truncate(0);
    expect(dec.eval([1, 5, 9])).toEqual(first);
  });
});
