import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { encodeOnnxModel, type OnnxModelSpec } from "../../src/tensor/kernels/onnx-model.js";
import { ortGraph, runOnnxModel } from "../../src/tensor/kernels/ort.js";

/** B = relu(A) over a vector of any length. */
const reluModel = () =>
  encodeOnnxModel({
    opset: 17,
    inputs: [{ name: "A", type: "float", dims: ["n"] }],
    outputs: [{ name: "B", type: "float", dims: ["n"] }],
    nodes: [{ op: "Relu", inputs: ["A"], outputs: ["B"] }],
  });

describe("ONNX model encoder", () => {
  it("leaves an initializer's bytes in a file that onnxruntime reads from the folder it is given", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "infuse-onnx-external-"));
    // 16 bytes of something else, then W (2, 3) as little-endian f32: the offset is honoured
    const w = Float32Array.of(1, 2, 3, 4, 5, 6);
    writeFileSync(path.join(dir, "weights.bin"), Buffer.concat([Buffer.alloc(16, 7), Buffer.from(w.buffer)]));
    const spec = (file: string): OnnxModelSpec => ({
      opset: 17,
      inputs: [{ name: "X", type: "float", dims: [1, 3] }],
      outputs: [{ name: "Y", type: "float", dims: [1, 2] }],
      initializers: [{ name: "W", dims: [2, 3], type: "float", data: { file, offset: 16, byteLength: 24 } }],
      nodes: [{ op: "Gemm", inputs: ["X", "W"], outputs: ["Y"], attributes: [{ name: "transB", int: 1 }] }],
    });
    const y = new Float32Array(2);
    const g = ortGraph(encodeOnnxModel(spec("weights.bin")), "external", { externalFolder: dir });
    g.run({ X: { data: Float32Array.of(1, 1, 1), dims: [1, 3] } }, { Y: { data: y, dims: [1, 2] } });
    g.dispose();
    expect(Array.from(y)).toEqual([6, 15]);
    expect(() => ortGraph(encodeOnnxModel(spec("missing.bin")), "external-missing", { externalFolder: dir })).toThrow(
      expect.objectContaining({
        code: "tensor.ort_load_failed",
        message: expect.stringContaining('"external-missing"'),
      }),
    );
  });

  it("builds a graph with initializers, int/float/ints/string attributes and symbolic dims that onnxruntime runs", () => {
    const model = () =>
      encodeOnnxModel({
        opset: 17,
        inputs: [{ name: "X", type: "float", dims: ["batch", 3] }],
        outputs: [{ name: "Y", type: "float", dims: ["batch", 4] }],
        initializers: [
          { name: "W", dims: [2, 3], data: Float32Array.of(1, 0, 0, 0, 1, 1) },
          { name: "pads", dims: [4], data: BigInt64Array.of(0n, 1n, 0n, 1n) },
        ],
        nodes: [
          {
            op: "Gemm",
            inputs: ["X", "W"],
            outputs: ["H"],
            attributes: [
              { name: "alpha", float: 2 },
              { name: "transB", int: 1 },
            ],
          },
          { op: "Transpose", inputs: ["H"], outputs: ["Ht"], attributes: [{ name: "perm", ints: [1, 0] }] },
          { op: "Transpose", inputs: ["Ht"], outputs: ["H2"], attributes: [{ name: "perm", ints: [1, 0] }] },
          { op: "Pad", inputs: ["H2", "pads"], outputs: ["Y"], attributes: [{ name: "mode", string: "constant" }] },
        ],
      });
    for (const batch of [1, 3]) {
      const x = Float32Array.from({ length: batch * 3 }, (_, i) => i + 1);
      const { Y } = runOnnxModel("encoder-test", model, { X: { data: x, dims: [batch, 3] } });
      expect(Y!.dims).toEqual([batch, 4]);
      const row0 = Array.from(Y!.data as Float32Array).slice(0, 4);
      expect(row0).toEqual([0, 2 * 1, 2 * (2 + 3), 0]);
    }
  });

  it("encodes tensor attributes (Constant) and int64 inputs (Gather of an embedding table)", () => {
    const model = () =>
      encodeOnnxModel({
        opset: 17,
        inputs: [{ name: "ids", type: "int64", dims: ["batch", "seq"] }],
        outputs: [{ name: "emb", type: "float", dims: ["batch", "seq", 2] }],
        nodes: [
          {
            op: "Constant",
            inputs: [],
            outputs: ["table"],
            attributes: [
              { name: "value", tensor: { name: "t", dims: [3, 2], data: Float32Array.of(0, 1, 10, 11, 20, 21) } },
            ],
          },
          { op: "Gather", inputs: ["table", "ids"], outputs: ["emb"], attributes: [{ name: "axis", int: 0 }] },
        ],
      });
    const { emb } = runOnnxModel("gather-test", model, { ids: { data: BigInt64Array.of(2n, 0n), dims: [1, 2] } });
    expect(emb!.dims).toEqual([1, 2, 2]);
    expect(Array.from(emb!.data as Float32Array)).toEqual([20, 21, 0, 1]);
  });

  it("writes an output into a buffer the caller pre-allocated", () => {
    const into = new Float32Array(3).fill(7);
    const { B } = runOnnxModel(
      "relu-into",
      reluModel,
      { A: { data: Float32Array.of(-1, 2, -3), dims: [3] } },
      {
        B: { data: into, dims: [3] },
      },
    );
    expect(B!.data).toBe(into);
    expect(Array.from(into)).toEqual([0, 2, 0]);
  });

  it("names the model and hints the fix when a run fails", () => {
    expect(() => runOnnxModel("relu-test", reluModel, { Wrong: { data: Float32Array.of(1), dims: [1] } })).toThrow(
      /relu-test/,
    );
  });

  it("refuses an initializer whose dims do not match its data", () => {
    expect(() =>
      encodeOnnxModel({
        opset: 17,
        inputs: [],
        outputs: [],
        nodes: [],
        initializers: [{ name: "W", dims: [2, 2], data: new Float32Array(3) }],
      }),
    ).toThrow(/initializer "W" has dims \[2, 2\]/);
  });
});
