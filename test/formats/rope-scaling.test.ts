// RoPE scaling read from config.json and from GGUF metadata into one description, and the errors for
// values and types we do not run. Parity with llama.cpp is in test/models/llama-shapes.test.ts.
import { describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import type { GgufValue } from "../../src/formats/gguf/types.js";
import { ropeScalingFromGguf, ropeScalingFromHf, yarnMagnitude } from "../../src/formats/hf/rope-scaling.js";

const gguf =
  (md: Record<string, GgufValue>) =>
  (key: string): GgufValue | undefined =>
    md[key];

describe("RoPE scaling", () => {
  it("reads the same YaRN description from config.json and from GGUF keys", () => {
    const hf = ropeScalingFromHf(
      {
        max_position_embeddings: 131072,
        rope_scaling: { rope_type: "yarn", factor: 4, original_max_position_embeddings: 32768 },
      },
      "config.json",
    );
    const fromGguf = ropeScalingFromGguf(
      gguf({
        "qwen2.rope.scaling.type": "yarn",
        "qwen2.rope.scaling.factor": 4,
        "qwen2.rope.scaling.original_context_length": 32768,
      }),
      "qwen2",
      "m.gguf",
    );
    expect(hf).toEqual({
      type: "yarn",
      factor: 4,
      originalContextLength: 32768,
      betaFast: 32,
      betaSlow: 1,
      attnFactor: 1,
    });
    expect(fromGguf).toEqual(hf);
  });

  it("turns HF's attention_factor (a replacement) into llama.cpp's attn_factor (a multiplier)", () => {
    const s = ropeScalingFromHf(
      { max_position_embeddings: 4096, rope_scaling: { type: "yarn", factor: 2, attention_factor: 1.5 } },
      "config.json",
    );
    expect(s.type === "yarn" && s.attnFactor * yarnMagnitude(2)).toBeCloseTo(1.5, 6);
    expect(s.type === "yarn" && s.originalContextLength).toBe(4096);
  });

  it("treats absent, default and factor-1 linear scaling as none", () => {
    expect(ropeScalingFromHf({}, "c")).toEqual({ type: "none" });
    expect(ropeScalingFromHf({ rope_scaling: null }, "c")).toEqual({ type: "none" });
    expect(ropeScalingFromHf({ rope_scaling: { rope_type: "default" } }, "c")).toEqual({ type: "none" });
    expect(ropeScalingFromGguf(gguf({}), "llama", "m")).toEqual({ type: "none" });
    expect(ropeScalingFromGguf(gguf({ "llama.rope.scaling.type": "linear" }), "llama", "m")).toEqual({ type: "none" });
    expect(
      ropeScalingFromGguf(gguf({ "llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": 2 }), "llama", "m"),
    ).toEqual({ type: "linear", factor: 2 });
  });

  it("names the file, the type and the supported ones for scaling we do not run", () => {
    const err = (() => {
      try {
        ropeScalingFromHf({ rope_scaling: { rope_type: "dynamic", factor: 2 } }, "/m/config.json");
      } catch (e) {
        return e;
      }
    })() as InfuseError;
    expect(err).toBeInstanceOf(InfuseError);
    expect(err.code).toBe("model.unsupported_rope_scaling");
    expect(err.message).toContain("/m/config.json");
    expect(err.message).toContain('"dynamic"');
    expect(err.hint).toBe("supported: none, linear, llama3, yarn");
    expect(() => ropeScalingFromGguf(gguf({ "phi3.rope.scaling.type": "longrope" }), "phi3", "m.gguf")).toThrow(
      /m\.gguf: RoPE scaling "longrope"/,
    );
  });

  it("names the field when a factor is missing or not positive", () => {
    expect(() => ropeScalingFromHf({ rope_scaling: { rope_type: "linear" } }, "/m/config.json")).toThrow(
      /\/m\/config\.json: rope_scaling\.factor must be a positive number, got undefined/,
    );
    expect(() =>
      ropeScalingFromGguf(
        gguf({
          "llama.rope.scaling.type": "yarn",
          "llama.rope.scaling.factor": 4,
          "llama.rope.scaling.yarn_beta_fast": -1,
        }),
        "llama",
        "m.gguf",
      ),
    ).toThrow(/llama\.rope\.scaling\.yarn_beta_fast must be a positive number/);
  });
});
