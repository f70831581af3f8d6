// The ONNX encoder copies an initializer's bytes once, into the model: nested messages (initializer,
// graph) are not flattened on the way, so a layer of quantized weights costs one copy to encode, not three.
import { describe, expect, it } from "vitest";
import { encodeOnnxModel } from "../../src/tensor/kernels/onnx-model.js";
import { runOnnxModel } from "../../src/tensor/kernels/ort.js";

describe("encodeOnnxModel memory", () => {
  it("copies a large initializer once, and the model still runs", () => {
    const n = 1 << 20; // 4 MiB of f32
    const w = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
    const before = process.memoryUsage().arrayBuffers;
    const bytes = encodeOnnxModel({
      opset: 17,
      inputs: [{ name: "A", type: "float", dims: [n] }],
      outputs: [{ name: "Y", type: "float", dims: [n] }],
      initializers: [{ name: "W", dims: [n], data: w }],
      nodes: [{ op: "Add", inputs: ["A", "W"], outputs: ["Y"] }],
    });
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(1.5 * 4 * n); // the model itself; flattening each level left 3 copies
    const y = new Float32Array(n);
    runOnnxModel(
      "onnx-memory-add",
      () => bytes,
      { A: { data: new Float32Array(n).fill(1), dims: [n] } },
      {
        Y: { data: y, dims: [n] },
      },
    );
    expect([y[0], y[1], y[n - 1]]).toEqual([w[0]! + 1, w[1]! + 1, w[n - 1]! + 1]);
  });
});
