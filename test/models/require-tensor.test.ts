import { describe, expect, it } from "vitest";
import { requireTensor } from "../../src/models/llama/weights.js";

describe("requireTensor", () => {
  const source = new Map([["blk.0.attn_q.weight", { shape: [4, 8] }]]);

  it("gives the tensor of the expected shape", () => {
    expect(requireTensor(source, "blk.0.attn_q.weight", [4, 8], "m.gguf", "a llama-family decoder")).toBe(
      source.get("blk.0.attn_q.weight"),
    );
  });

  it("names a missing tensor and a wrong shape, with the model family in the hint", () => {
    expect(() => requireTensor(source, "output.weight", [4, 8], "m.gguf", "a BERT-family encoder")).toThrow(
      expect.objectContaining({
        code: "model.missing_tensor",
        message: "m.gguf: tensor output.weight is missing",
        hint: "the file is incomplete or not a BERT-family encoder",
      }),
    );
    expect(() => requireTensor(source, "blk.0.attn_q.weight", [8, 4], "m.gguf", "x")).toThrow(
      expect.objectContaining({
        code: "model.bad_shape",
        message: "m.gguf: tensor blk.0.attn_q.weight is (4, 8), expected (8, 4)",
      }),
    );
  });
});
