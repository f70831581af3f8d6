// LoRA adapters without training: random A/B on every linear layer of the real stories260K (rsLoRA
// scaling), written as adapter.gguf and PEFT files: llama.cpp's logits with the GGUF adapter equal ours
// (Q/K row permutation of lora_B checked on attn_q and attn_k), the PEFT files load back to the same
// logits, and the merged GGUF gives them too. Target patterns pick the layers PEFT's names pick.
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { attachLora, loadLora, matchesTarget, writeLoraFiles } from "../../src/models/lora/index.js";
import { randn, Rng } from "../../src/tensor/index.js";
import { mergeAdapter } from "../../src/train/merge.js";
import { fixture } from "../helpers/fixtures.js";
import { tempDir } from "./helpers.js";
import { llamaCppLogitsWithLora, loadOracleModel, maxAbsDiff, oracle } from "./oracle.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
afterAll(async () => (await oracle()).dispose());

describe("LoRA adapters", () => {
  it("choose layers by PEFT name, GGUF name, all-linear or glob", () => {
    expect(matchesTarget("blk.3.attn_q", "q_proj")).toBe(true);
    expect(matchesTarget("blk.3.attn_q", "attn_q")).toBe(true);
    expect(matchesTarget("blk.3.attn_k", "q_proj")).toBe(false);
    expect(matchesTarget("blk.3.ffn_down", "all-linear")).toBe(true);
    expect(matchesTarget("output", "all-linear")).toBe(false);
    expect(matchesTarget("blk.1.attn_v", "blk.1.*")).toBe(true);
    expect(matchesTarget("blk.2.attn_v", "model.layers.2.self_attn.*")).toBe(true);
    expect(matchesTarget("blk.2.attn_v", "model.layers.3.*")).toBe(false);
  });

  it("gives llama.cpp's logits through adapter.gguf, loads back from PEFT, and merges (rsLoRA, all linear layers)", async () => {
    const dir = tempDir();
    const { model, tokenizer } = await loadLlama(MODEL);
    const set = attachLora(model, { r: 4, alpha: 6, rslora: true, targets: ["all-linear"], seed: 2 });
    expect(set.adapters.size).toBe(5 * 7);
    const rng = new Rng(9);
    for (const ad of set.adapters.values()) ad.b.data.set(randn(rng, ad.b.size, 0.05));
    set.setTraining(false);
    await writeLoraFiles(dir, set, MODEL);
    const ids = tokenizer.encode("Once upon a time, a little fox");
    const v = model.config.vocabSize;
    const ours = new LlamaDecoder(model).eval(ids);
    const o = await loadOracleModel(MODEL);
    const theirs = await llamaCppLogitsWithLora(o, ids, v, path.join(dir, "adapter.gguf"));
    const base = await llamaCppLogitsWithLora(o, ids, v);
    await o.dispose();
    expect(maxAbsDiff(ours, base)).toBeGreaterThan(0.5);
    expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(1e-3);
    const again = await loadLlama(MODEL);
    const loaded = await loadLora(again.model, dir);
    expect(loaded.options).toMatchObject({ r: 4, alpha: 6, rslora: true });
    expect(maxAbsDiff(new LlamaDecoder(again.model).eval(ids), ours)).toBeLessThanOrEqual(1e-5);
    await mergeAdapter(MODEL, dir, path.join(dir, "merged.gguf"));
    const merged = await loadLlama(path.join(dir, "merged.gguf"));
    expect(maxAbsDiff(new LlamaDecoder(merged.model).eval(ids), ours)).toBeLessThanOrEqual(1e-3);
  }, 120_000);
});
