// LoRA adapters without training: random A/B on every linear layer of the real stories260K (rsLoRA
// scaling), written as adapter.gguf and PEFT files: llama.cpp's logits with the GGUF adapter equal ours
// (Q/K row permutation of lora_B checked on attn_q and attn_k), the PEFT files load back to the same
// logits, and the merged GGUF gives them too. Target patterns pick the layers PEFT's names pick.
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { attachLora, loadLora, matchesTarget, writeLoraFiles } from "../../src/models/lora/index.js";
import { randn, Rng, type Tensor } from "../../src/tensor/index.js";
import { checkpointedLoss } from "../../src/train/checkpointing.js";
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

  it("gets the same loss and adapter gradients with gradient checkpointing (dropout on)", async () => {
    const { model, tokenizer } = await loadLlama(MODEL);
    const set = attachLora(model, { r: 4, alpha: 8, dropout: 0.2, targets: ["all-linear"], seed: 4 });
    const rng = new Rng(5);
    for (const ad of set.adapters.values()) ad.b.data.set(randn(rng, ad.b.size, 0.05));
    const a = tokenizer.encode("The cat sat on the mat.");
    const b = tokenizer.encode("A dog ran far away home.");
    const t = Math.max(a.length, b.length);
    const pad = (x: number[]) => [...x, ...Array<number>(t - x.length).fill(0)];
    const ids = Int32Array.from([...pad(a), ...pad(b)]);
    const attentionMask = Int32Array.from([...pad(a.map(() => 1)), ...pad(b.map(() => 1))]);
    const labels = Int32Array.from(
      [...ids].map((id, i) => (i % t < t - 1 && attentionMask[i + 1] ? ids[i + 1]! : -100)),
    );
    const batch = { ids, labels, attentionMask, batch: 2 };
    const start = set.rng.state();
    const run = (loss: () => Tensor): { value: number; grads: Float32Array[] } => {
      set.rng.setState(start);
      for (const p of set.params()) p.grad = null;
      const l = loss();
      l.backward();
      return { value: l.item(), grads: set.params().map((p) => p.grad!.data.slice()) };
    };
    const plain = run(() => model.loss(batch));
    const ckpt = run(() => checkpointedLoss(model, batch, set.rng));
    expect(Math.abs(plain.value - ckpt.value)).toBeLessThan(1e-6);
    plain.grads.forEach((g, i) => expect(maxAbsDiff(g, ckpt.grads[i]!)).toBeLessThan(1e-5));
    expect(plain.grads.some((g) => g.some((v) => v !== 0))).toBe(true);
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

  it("an adapter of another model's shapes is refused before anything attaches", async () => {
    const dir = tempDir();
    const { model } = await loadLlama(MODEL);
    await writeLoraFiles(dir, attachLora(model, { r: 4, alpha: 8, targets: ["q_proj", "down_proj"] }), MODEL);
    const other = (await loadLlama(fixture("models/tinystories-656k-hf"))).model;
    await expect(loadLora(other, dir)).rejects.toMatchObject({ code: "lora.shape_mismatch" });
    expect([...other.linears().values()].every((lin) => lin.adapter === null)).toBe(true);
  });
});
