// safetensors read/write, HF ↔ GGUF names both ways, the Q/K permutation, and the HF → GGUF
// conversion of the real TinyStories-656K checkpoint, checked by llama.cpp's fluency on a story.
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { GgmlType, openGguf, writeGguf, type GgufTensorInput } from "../../src/formats/gguf/index.js";
import { ggufToHfName, hfToGgufName } from "../../src/formats/hf/names.js";
import { permuteQK, unpermuteQK } from "../../src/formats/hf/permute.js";
import { openSafetensors, writeSafetensors } from "../../src/formats/safetensors.js";
import { GgufTokenizer } from "../../src/tokenizers/gguf-tokenizer.js";
import { fixture } from "../helpers/fixtures.js";
import { loadOracleModel, oracleMeanLogProb, disposeOracle } from "./oracle.js";
import { seededFloats } from "./tiny-models.js";

const HF_DIR = fixture("models/tinystories-656k-hf");
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-convert-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STORY = [
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
  'One day, she saw a big red ball under a tree. "Can I play with the ball?" Lily asked her mom.',
  'Her mom smiled and said, "Yes, you can play with it." Lily was very happy. She kicked the ball',
  "and ran after it. Then she saw a little dog. The dog wanted to play too. Lily and the dog played",
  "with the ball all day. When the sun went down, Lily went home. She was tired but happy.",
].join(" ");
afterAll(disposeOracle);

describe("safetensors", () => {
  it("reads the real TinyStories checkpoint lazily and writes it back identically", async () => {
    const st = await openSafetensors(path.join(HF_DIR, "model.safetensors"));
    expect(st.tensors).toHaveLength(20);
    expect(st.tensors.reduce((a, t) => a + t.elementCount, 0)).toBe(656_000);
    const q = st.tensor("model.layers.0.self_attn.q_proj.weight")!;
    expect(q.shape).toEqual([128, 128]);
    expect(q.dtype).toBe("F32");
    const tensors = [];
    for (const t of st.tensors)
      tensors.push({ name: t.name, shape: t.shape, dtype: t.dtype, bytes: await st.readTensorBytes(t.name) });
    const out = path.join(tmp, "copy.safetensors");
    await writeSafetensors(out, tensors, st.metadata);
    const again = await openSafetensors(out);
    for (const t of st.tensors) {
      const [a, b] = [await again.readTensorBytes(t.name), await st.readTensorBytes(t.name)];
      expect(Buffer.compare(a, b), t.name).toBe(0);
    }
    const norm = await again.readTensorF32("model.norm.weight");
    expect(norm).toHaveLength(128);
    expect(norm.every(Number.isFinite)).toBe(true);
    st.close();
    again.close();
  });

  it("converts F16/BF16 on write and read, and rejects bad files with the file, tensor and offset", async () => {
    const data = Float32Array.of(1, -2, 0.5, 65504);
    const out = path.join(tmp, "half.safetensors");
    await writeSafetensors(out, [
      { name: "h", shape: [2, 2], dtype: "F16", data },
      { name: "b", shape: [4], dtype: "BF16", data },
    ]);
    const st = await openSafetensors(out);
    expect(await st.readTensorF32("h")).toEqual(data);
    expect(Array.from(await st.readTensorF32("b"))).toEqual([1, -2, 0.5, 65536]);
    st.close();
    const full = readFileSync(path.join(HF_DIR, "model.safetensors"));
    const cut = path.join(tmp, "cut.safetensors");
    writeFileSync(cut, full.subarray(0, full.length - 10));
    const err = await openSafetensors(cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfuseError);
    expect((err as InfuseError).code).toBe("safetensors.truncated");
    expect((err as InfuseError).message).toMatch(/cut\.safetensors: tensor .* \(byte \d+\)/);
    const tiny = path.join(tmp, "tiny.safetensors");
    writeFileSync(tiny, Buffer.from([1, 2, 3]));
    await expect(openSafetensors(tiny)).rejects.toThrow(/no header length/);
  });
});

describe("HF ↔ GGUF names", () => {
  const llamaNames = [
    ["model.embed_tokens.weight", "token_embd.weight"],
    ["lm_head.weight", "output.weight"],
    ["model.norm.weight", "output_norm.weight"],
    ["model.layers.11.self_attn.q_proj.weight", "blk.11.attn_q.weight"],
    ["model.layers.0.self_attn.k_proj.bias", "blk.0.attn_k.bias"],
    ["model.layers.3.post_attention_layernorm.weight", "blk.3.ffn_norm.weight"],
    ["model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight"],
  ] as const;
  const bertNames = [
    ["embeddings.word_embeddings.weight", "token_embd.weight"],
    ["embeddings.LayerNorm.bias", "token_embd_norm.bias"],
    ["encoder.layer.5.attention.self.query.weight", "blk.5.attn_q.weight"],
    ["encoder.layer.5.attention.output.LayerNorm.weight", "blk.5.attn_output_norm.weight"],
    ["encoder.layer.2.output.dense.bias", "blk.2.ffn_down.bias"],
  ] as const;

  it("maps both ways for llama and bert, and drops rotary caches and the pooler", () => {
    for (const [hf, gguf] of llamaNames) {
      expect(hfToGgufName("llama", hf)).toBe(gguf);
      expect(ggufToHfName("llama", gguf)).toBe(hf);
    }
    for (const [hf, gguf] of bertNames) {
      expect(hfToGgufName("bert", hf)).toBe(gguf);
      expect(hfToGgufName("bert", `bert.${hf}`)).toBe(gguf);
      expect(ggufToHfName("bert", gguf)).toBe(hf);
    }
    expect(hfToGgufName("llama", "model.layers.0.self_attn.rotary_emb.inv_freq")).toBeNull();
    expect(hfToGgufName("bert", "pooler.dense.weight")).toBeNull();
    expect(hfToGgufName("llama", "model.layers.0.weird.weight")).toBeUndefined();
  });

  it("permutes Q/K rows per head into interleaved pairs, and back", () => {
    // 2 heads of dim 4, 1 column: HF rows [a0 a1 b0 b1] per head pair (a0,b0), (a1,b1).
    const w = Float32Array.of(0, 1, 2, 3, 10, 11, 12, 13);
    expect(Array.from(permuteQK(w, 8, 2))).toEqual([0, 2, 1, 3, 10, 12, 11, 13]);
    const big = seededFloats(64 * 24, 9);
    expect(unpermuteQK(permuteQK(big, 64, 8), 64, 8)).toEqual(big);
  });
});

describe("HF → GGUF conversion of TinyStories-656K", () => {
  it("writes a GGUF llama.cpp loads and reads fluently; without the Q/K permutation it does not", async () => {
    const out = path.join(tmp, "tinystories-f32.gguf");
    const result = await convertHfToGguf(HF_DIR, out, { outType: "F32" });
    // 656,000 HF parameters plus 256 byte-fallback rows of 128 the vocabulary lacked.
    expect(result).toMatchObject({ architecture: "llama", tensors: 20, parameters: 656_000 + 256 * 128 });
    const g = await openGguf(out);
    expect(g.get("llama.attention.head_count_kv")).toBe(4);
    expect(g.tensor("token_embd.weight")?.dims).toEqual([128, 2048 + 256]);
    expect(g.tensor("output.weight")).toBeUndefined(); // tied to token_embd
    const tokens = new GgufTokenizer(g.metadata).encode(STORY);
    expect(tokens[0]).toBe(1);

    // The same weights with Q/K left in HF order.
    const unpermuted: GgufTensorInput[] = [];
    for (const t of g.tensors) {
      let data = await g.readTensorF32(t.name);
      if (/attn_[qk]\.weight$/.test(t.name)) data = unpermuteQK(data, t.dims[1]!, t.name.includes("attn_q") ? 8 : 4);
      unpermuted.push({ name: t.name, dims: t.dims, type: GgmlType.F32, data });
    }
    const wrong = path.join(tmp, "tinystories-unpermuted.gguf");
    await writeGguf(wrong, { metadata: g.metadata, tensors: unpermuted });
    g.close();

    const model = await loadOracleModel(out);
    // Text outside the 2048-token vocabulary now falls back to byte tokens instead of aborting llama.cpp.
    const foreign = "Xin chào 你好 😀";
    expect([...model.tokenize(foreign)]).toEqual(new GgufTokenizer(g.metadata).encode(foreign, { addSpecial: false }));
    const fluent = await oracleMeanLogProb(model, tokens);
    await model.dispose();
    const wrongModel = await loadOracleModel(wrong);
    const broken = await oracleMeanLogProb(wrongModel, tokens);
    await wrongModel.dispose();
    console.log(`mean log-prob: converted ${fluent.toFixed(3)}, Q/K unpermuted ${broken.toFixed(3)}`);
    // A trained story model reads a story far better than uniform over 2048 tokens (-7.6).
    expect(fluent).toBeGreaterThan(-3);
    expect(fluent - broken).toBeGreaterThan(0.5);

    const q8 = path.join(tmp, "tinystories-q8.gguf");
    await convertHfToGguf(HF_DIR, q8, { outType: "Q8_0" });
    const q8Model = await loadOracleModel(q8);
    const q8lp = await oracleMeanLogProb(q8Model, tokens);
    await q8Model.dispose();
    expect(Math.abs(q8lp - fluent)).toBeLessThan(0.05);
  });
});
