// Mistral and Qwen2 shapes (grouped-query attention 4:1, q/k/v biases, tied embeddings, NeoX RoPE,
// RoPE θ and linear / llama3 / YaRN scaling from the metadata) against llama.cpp, from HF folders and converted GGUFs;
// and the error for an architecture we do not run.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { kv, writeGguf } from "../../src/formats/gguf/index.js";
import { loadLlama, loadLlamaFolder, loadLlamaGguf } from "../../src/models/llama/load.js";
import { agreement } from "./helpers.js";
import { llamaCppLogits, loadOracleModel, maxAbsDiff, oracle } from "./oracle.js";
import { writeTinyHfModel } from "./tiny-decoders.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-llama-shapes-"));
const PROMPT = "Tom and Lily went to the park to play with a ball.";

afterAll(async () => (await oracle()).dispose());

/**
 * Logits within 1e-3 of llama.cpp's on the GGUF and the same greedy tokens for 64 steps (the KV-cache
 * decoder), and the training forward's logits at the last of 80 positions too (the autograd path).
 */
async function expectLlamaCppAgreement(gguf: string, loads: Awaited<ReturnType<typeof loadLlamaGguf>>[]) {
  const ids = loads[0]!.tokenizer.encode(PROMPT);
  const ref = await loadOracleModel(gguf);
  try {
    const long = Array.from({ length: 80 }, (_, i) => ids[i % ids.length]!);
    for (const loaded of loads) {
      const V = loaded.model.config.vocabSize; // the folder lacks the byte tokens the converter adds
      const [last] = await llamaCppLogits(ref, long, V, [long.length - 1]);
      const a = await agreement(loaded.model, ref, ids, 64);
      expect(a.maxDiff).toBeLessThanOrEqual(1e-3);
      expect(a.top1).toBe(1);
      const logits = loaded.model.forward({ ids: Int32Array.from(long), batch: 1 }).data;
      expect(maxAbsDiff(logits.subarray((long.length - 1) * V), last!)).toBeLessThanOrEqual(1e-3);
    }
  } finally {
    await ref.dispose();
  }
}

describe("architectures", () => {
  it("mistral shape with RoPE θ 1e6 and linear scaling ×2: folder and GGUF match llama.cpp", async () => {
    const dir = await writeTinyHfModel(path.join(tmp, "mistral"), {
      modelType: "mistral",
      heads: 8,
      kvHeads: 2,
      ropeTheta: 1e6,
      ropeScaling: { type: "linear", factor: 2 },
    });
    const { path: gguf } = await convertHfToGguf(dir, path.join(tmp, "mistral.gguf"), { outType: "F32" });
    const folder = await loadLlamaFolder(dir);
    const converted = await loadLlamaGguf(gguf);
    for (const c of [folder.model.config, converted.model.config]) {
      expect([c.heads, c.kvHeads, c.ropeBase]).toEqual([8, 2, 1e6]);
      expect(c.ropeScaling).toEqual({ type: "linear", factor: 2 });
    }
    await expectLlamaCppAgreement(gguf, [folder, converted]);
  });

  // Small head size and original context so every branch of the scaling (kept, blended, stretched)
  // hits some frequency at these prompt lengths.
  it("llama3 RoPE scaling: the converter writes rope_freqs.weight and both loads match llama.cpp", async () => {
    const dir = await writeTinyHfModel(path.join(tmp, "llama3"), {
      modelType: "llama",
      heads: 4,
      kvHeads: 2,
      ropeTheta: 10000,
      ropeScaling: {
        rope_type: "llama3",
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 64,
      },
    });
    const { path: gguf } = await convertHfToGguf(dir, path.join(tmp, "llama3.gguf"), { outType: "F32" });
    const folder = await loadLlamaFolder(dir);
    const converted = await loadLlamaGguf(gguf);
    const factors = [folder, converted].map((l) => Array.from(l.model.config.ropeFreqFactors ?? []));
    expect(factors[0]!.length).toBe(8);
    expect(factors[0]![0]).toBe(1); // short wavelengths keep their frequency
    expect(factors[0]![7]).toBeCloseTo(8, 5); // long ones are slowed by the factor
    for (let i = 0; i < 8; i++) expect(factors[1]![i]).toBeCloseTo(factors[0]![i]!, 6);
    await expectLlamaCppAgreement(gguf, [folder, converted]);
  });

  it("YaRN RoPE scaling (qwen2): frequencies blended and magnitude scaled as llama.cpp does", async () => {
    const scaling = { rope_type: "yarn", factor: 4, original_max_position_embeddings: 64 };
    const dir = await writeTinyHfModel(path.join(tmp, "yarn"), {
      modelType: "qwen2",
      heads: 4,
      kvHeads: 1,
      bias: true,
      ropeScaling: scaling,
    });
    const { path: gguf } = await convertHfToGguf(dir, path.join(tmp, "yarn.gguf"), { outType: "F32" });
    const folder = await loadLlamaFolder(dir);
    const converted = await loadLlamaGguf(gguf);
    for (const c of [folder.model.config, converted.model.config]) {
      expect(c.ropeScaling).toEqual({
        type: "yarn",
        factor: 4,
        originalContextLength: 64,
        betaFast: 32,
        betaSlow: 1,
        attnFactor: 1,
      });
    }
    await expectLlamaCppAgreement(gguf, [folder, converted]);
  });

  it("qwen2 shape with q/k/v biases and tied embeddings: folder and GGUF match llama.cpp", async () => {
    const dir = await writeTinyHfModel(path.join(tmp, "qwen2"), {
      modelType: "qwen2",
      heads: 4,
      kvHeads: 1,
      bias: true,
      tied: true,
      ropeTheta: 1e6,
    });
    const { path: gguf, architecture } = await convertHfToGguf(dir, path.join(tmp, "qwen2.gguf"), { outType: "F32" });
    expect(architecture).toBe("qwen2");
    const folder = await loadLlamaFolder(dir);
    const converted = await loadLlamaGguf(gguf);
    expect(converted.model.config.arch).toBe("qwen2");
    expect(converted.model.config.ropeLayout).toBe("half");
    expect(converted.model.weights.layers[0]!.q.bias?.size).toBe(64);
    expect(converted.model.weights.output.weight).toBe(converted.model.weights.tokenEmbd);
    await expectLlamaCppAgreement(gguf, [folder, converted]);
  });

  it("names an unsupported architecture and lists the supported ones", async () => {
    const gguf = path.join(tmp, "falcon.gguf");
    await writeGguf(gguf, { metadata: new Map([["general.architecture", kv.str("falcon")]]), tensors: [] });
    const err = await loadLlama(gguf).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfuseError);
    expect((err as InfuseError).code).toBe("model.unsupported_architecture");
    expect((err as InfuseError).message).toContain('"falcon"');
    expect((err as InfuseError).hint).toMatch(/llama, mistral, qwen2/);
    const folder = path.join(tmp, "gpt2");
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, "config.json"), JSON.stringify({ model_type: "gpt2" }));
    const err2 = await loadLlama(folder).catch((e: unknown) => e);
    expect((err2 as InfuseError).code).toBe("model.unsupported_architecture");
    expect((err2 as InfuseError).message).toContain('"gpt2"');
  });
});
