// Mistral and Qwen2 shapes (grouped-query attention 4:1, q/k/v biases, tied embeddings, NeoX RoPE,
// RoPE θ and linear scaling from the metadata) against llama.cpp, from HF folders and converted GGUFs;
// and the error for an architecture we do not run.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { kv, writeGguf } from "../../src/formats/gguf/index.js";
import { loadLlama, loadLlamaFolder, loadLlamaGguf } from "../../src/models/llama/load.js";
import { rewriteGguf } from "./gguf-rewrite.js";
import { agreement } from "./helpers.js";
import { loadOracleModel, oracle } from "./oracle.js";
import { writeTinyHfModel } from "./tiny-decoders.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-llama-shapes-"));
const PROMPT = "Tom and Lily went to the park to play with a ball.";

afterAll(async () => (await oracle()).dispose());

describe("architectures", () => {
  it("mistral shape with RoPE θ 1e6 and linear scaling ×2: folder and GGUF match llama.cpp", async () => {
    const dir = await writeTinyHfModel(path.join(tmp, "mistral"), {
      modelType: "mistral",
      heads: 8,
      kvHeads: 2,
      ropeTheta: 1e6,
      ropeScaling: { type: "linear", factor: 2 },
    });
    const plain = await convertHfToGguf(dir, path.join(tmp, "mistral-noscale.gguf"), { outType: "F32" });
    // Our converter does not write rope scaling; add llama.cpp's keys so its run scales too.
    const gguf = await rewriteGguf(plain.path, path.join(tmp, "mistral.gguf"), {
      metadata: new Map([
        ["llama.rope.scaling.type", kv.str("linear")],
        ["llama.rope.scaling.factor", kv.f32(2)],
      ]),
    });
    const folder = await loadLlamaFolder(dir);
    const converted = await loadLlamaGguf(gguf);
    for (const c of [folder.model.config, converted.model.config]) {
      expect([c.heads, c.kvHeads, c.ropeBase, c.ropeFreqScale]).toEqual([8, 2, 1e6, 0.5]);
    }
    const ids = converted.tokenizer.encode(PROMPT);
    const ref = await loadOracleModel(gguf);
    for (const loaded of [folder, converted]) {
      const a = await agreement(loaded.model, ref, ids, 64);
      expect(a.maxDiff).toBeLessThanOrEqual(1e-3);
      expect(a.top1).toBe(1);
    }
    await ref.dispose();
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
    const ids = converted.tokenizer.encode(PROMPT);
    const ref = await loadOracleModel(gguf);
    for (const loaded of [folder, converted]) {
      const a = await agreement(loaded.model, ref, ids, 64);
      expect(a.maxDiff).toBeLessThanOrEqual(1e-3);
      expect(a.top1).toBe(1);
    }
    await ref.dispose();
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
