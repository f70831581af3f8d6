// Our Llama decoder against llama.cpp on real checkpoints: stories260K (GGUF) and TinyStories-656K
// (Hugging Face safetensors, tied embeddings; loaded directly and after conversion by our GGUF writer).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlamaFolder, loadLlamaGguf, type LoadedLlama } from "../../src/models/llama/load.js";
import { noGrad } from "../../src/tensor/index.js";
import { fixture } from "../helpers/fixtures.js";
import { agreement, greedy } from "./helpers.js";
import { llamaCppLogits, loadOracleModel, maxAbsDiff, oracle } from "./oracle.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const HF_DIR = fixture("models/tinystories-656k-hf");
/** Long enough (> 100 tokens) that prompt chunks take the fused onnxruntime attention and SwiGLU. */
const LONG_PROMPT =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her " +
  "friend Tom. One day, they saw a big red ball under a tree. Lily wanted to kick the ball, but Tom said " +
  "it was not theirs. They looked around and saw a sad boy. The boy said he lost his ball. Lily and Tom " +
  "gave the ball back to the boy, and he smiled. They all played together until the sun went down. She";
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-llama-parity-"));

afterAll(async () => (await oracle()).dispose());

describe("stories260K (GGUF, llama, F32)", () => {
  let loaded: LoadedLlama;
  beforeAll(async () => {
    loaded = await loadLlamaGguf(STORIES);
  });

  it("reads the hyperparameters from the metadata", () => {
    const c = loaded.model.config;
    expect([c.arch, c.dim, c.layers, c.heads, c.kvHeads, c.ffnDim, c.vocabSize]).toEqual([
      "llama",
      64,
      5,
      8,
      4,
      172,
      512,
    ]);
    expect(c.rmsEps).toBeCloseTo(1e-5, 9);
    expect(c.ropeLayout).toBe("interleaved");
    expect(loaded.dtype).toBe("f32");
  });

  it("matches llama.cpp's logits to 1e-3 and its top-1 over 64 greedy tokens; the training forward agrees", async () => {
    const { model, tokenizer } = loaded;
    const ids = tokenizer.encode(LONG_PROMPT);
    expect(ids.length).toBeGreaterThan(100);
    const ref = await loadOracleModel(STORIES);
    const a = await agreement(model, ref, ids, 64);
    expect(a.promptDiff).toBeLessThanOrEqual(1e-3);
    expect(a.maxDiff).toBeLessThanOrEqual(1e-3);
    expect(a.top1).toBe(1);
    // The differentiable forward (whole sequence at once) gives the same last-position logits.
    const v = model.config.vocabSize;
    const logits = noGrad(() => model.forward({ ids: Int32Array.from(ids), batch: 1 }));
    const [cpp] = await llamaCppLogits(ref, ids, v);
    expect(maxAbsDiff(logits.data.subarray((ids.length - 1) * v), cpp!)).toBeLessThanOrEqual(1e-3);
    // The greedy text is a story, not noise.
    expect(tokenizer.decode(greedy(model, ids, 12).tokens)).toMatch(/[a-z]+ [a-z]+/);
    await ref.dispose();
  });

  it("evaluates a prompt in one chunk (fused kernels) or token by token to the same logits", () => {
    const ids = loaded.tokenizer.encode(LONG_PROMPT);
    const v = loaded.model.config.vocabSize;
    const chunked = new LlamaDecoder(loaded.model);
    const all = chunked.eval(ids, { logits: "all" }); // (T, V)
    expect(chunked.cache.length).toBe(ids.length);
    const stepwise = new LlamaDecoder(loaded.model);
    ids.forEach((id, i) => {
      const row = stepwise.eval([id]);
      expect(maxAbsDiff(row, all.subarray(i * v, (i + 1) * v))).toBeLessThan(1e-4);
    });
    // Truncating the cache and evaluating again reproduces the same continuation.
    stepwise.cache.truncate(3);
    const again = stepwise.eval(ids.slice(3));
    expect(maxAbsDiff(again, all.subarray((ids.length - 1) * v))).toBeLessThan(1e-4);
  });
});

describe("TinyStories-656K (HF folder, tied embeddings)", () => {
  it("matches llama.cpp on the GGUF our writer converts it to, loaded from the folder and from the GGUF", async () => {
    const gguf = path.join(tmp, "tinystories-656k-f32.gguf");
    await convertHfToGguf(HF_DIR, gguf, { outType: "F32" });
    const folder = await loadLlamaFolder(HF_DIR);
    const converted = await loadLlamaGguf(gguf);
    expect(folder.model.config.ropeLayout).toBe("half");
    expect(converted.model.config.ropeLayout).toBe("interleaved");
    expect(folder.model.weights.output.weight).toBe(folder.model.weights.tokenEmbd);
    const ids = converted.tokenizer.encode(LONG_PROMPT);
    expect(folder.tokenizer.encode(LONG_PROMPT)).toEqual(ids);
    const ref = await loadOracleModel(gguf);
    for (const loaded of [folder, converted]) {
      const a = await agreement(loaded.model, ref, ids, 64);
      expect(a.promptDiff).toBeLessThanOrEqual(1e-3);
      expect(a.maxDiff).toBeLessThanOrEqual(1e-3);
      expect(a.top1).toBe(1);
    }
    await ref.dispose();
  });
});
