// saveEncoder's sentence-transformers folder and GGUF, on tiny BERT encoders with the real MiniLM
// and gte vocabularies: our loader reads the folder back to the same vectors; its tensor names,
// shapes and JSON files are the layout sentence-transformers writes (checked byte by byte on the
// safetensors header); a tokenizer rebuilt from a GGUF gives the same ids; a LoRA adapter is merged.
import { readFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBert, loadBertFolder, loadBertGguf, type LoadedBert } from "../../src/models/bert/index.js";
import { saveEncoder } from "../../src/models/bert/export/index.js";
import { mergedWeight } from "../../src/models/bert/export/weights.js";
import { LoraAdapter } from "../../src/models/lora/adapter.js";
import { Rng } from "../../src/tensor/index.js";
import { loadHfTokenizer } from "../../src/tokenizers/hf.js";
import { fixture } from "../helpers/fixtures.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";
import { cosine, embedWith } from "./bert-export-helpers.js";
import { hfFolderFromGguf, variedTexts } from "./bert-helpers.js";

/** The tensors a sentence-transformers BERT folder holds (no prefix; the pooler left out), with shapes. */
function stTensorLayout(v: number, c: number, f: number, p: number, layers: number): Record<string, number[]> {
  const out: Record<string, number[]> = {
    "embeddings.word_embeddings.weight": [v, c],
    "embeddings.position_embeddings.weight": [p, c],
    "embeddings.token_type_embeddings.weight": [2, c],
    "embeddings.LayerNorm.weight": [c],
    "embeddings.LayerNorm.bias": [c],
  };
  for (let i = 0; i < layers; i++) {
    const l = `encoder.layer.${i}`;
    for (const m of ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]) {
      out[`${l}.${m}.weight`] = [c, c];
      out[`${l}.${m}.bias`] = [c];
    }
    out[`${l}.intermediate.dense.weight`] = [f, c];
    out[`${l}.intermediate.dense.bias`] = [f];
    out[`${l}.output.dense.weight`] = [c, f];
    out[`${l}.output.dense.bias`] = [c];
    for (const n of ["attention.output.LayerNorm", "output.LayerNorm"]) {
      out[`${l}.${n}.weight`] = [c];
      out[`${l}.${n}.bias`] = [c];
    }
  }
  return out;
}

async function safetensorsHeader(file: string): Promise<Record<string, { dtype: string; shape: number[] }>> {
  const bytes = await readFile(file);
  const len = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + len).toString("utf8")) as Record<string, { dtype: string; shape: number[] }>;
}

const json = async (file: string) => JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;

describe("saveEncoder: sentence-transformers folder", () => {
  let tmp: string;
  let texts: string[];
  let gguf: string;
  let loaded: LoadedBert;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bert-export-"));
    texts = await variedTexts(60);
    gguf = await writeTinyBertGguf(path.join(tmp, "tiny.gguf"), { hidden: 64, layers: 2, heads: 4, seed: 5 });
    loaded = await loadBertGguf(gguf);
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it("st from a GGUF: loads back to identical vectors, with sentence-transformers' names, shapes and files", async () => {
    const dir = path.join(tmp, "st");
    const saved = await saveEncoder(loaded.model, dir, { source: gguf, prompts: { query: "query: " } });
    expect(saved).toMatchObject({ st: dir, pooling: "mean", normalize: true, dtype: "f32" });
    const back = await loadBertFolder(dir);
    expect(back.model.config).toMatchObject({ ...loaded.model.config, maxTokens: 128 });
    const some = texts.slice(0, 60);
    expect(embedWith(back, some, "mean")).toEqual(embedWith(loaded, some, "mean"));

    const header = await safetensorsHeader(path.join(dir, "model.safetensors"));
    expect(header["__metadata__"]).toEqual({ format: "pt" });
    const layout = stTensorLayout(30522, 64, 128, 128, 2);
    const got = Object.fromEntries(
      Object.entries(header)
        .filter(([k]) => k !== "__metadata__")
        .map(([k, v]) => [k, v.shape]),
    );
    expect(got).toEqual(layout);
    expect(Object.values(header).every((v) => !("dtype" in v) || v.dtype === "F32")).toBe(true);

    expect(await json(path.join(dir, "config.json"))).toMatchObject({
      architectures: ["BertModel"],
      model_type: "bert",
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 128,
      max_position_embeddings: 128,
      type_vocab_size: 2,
      vocab_size: 30522,
      hidden_act: "gelu",
      layer_norm_eps: expect.closeTo(1e-12, 15),
    });
    expect(await json(path.join(dir, "modules.json"))).toEqual([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
      { idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" },
    ]);
    expect(await json(path.join(dir, "1_Pooling", "config.json"))).toMatchObject({
      word_embedding_dimension: 64,
      pooling_mode_mean_tokens: true,
      pooling_mode_cls_token: false,
    });
    expect(await json(path.join(dir, "sentence_bert_config.json"))).toEqual({
      max_seq_length: 128,
      do_lower_case: false,
    });
    expect(await json(path.join(dir, "config_sentence_transformers.json"))).toMatchObject({
      prompts: { query: "query: " },
      similarity_fn_name: "cosine",
    });

    // the rebuilt vocab.txt is the original; tokenizer.json (read by HF tokenizers' rules) gives llama.cpp's ids
    const vocab = await readFile(path.join(dir, "vocab.txt"), "utf8");
    expect(vocab).toBe(await readFile(fixture("models/all-MiniLM-L6-v2-tokenizer/vocab.txt"), "utf8"));
    const hf = await loadHfTokenizer(dir);
    for (const t of texts.slice(0, 40)) {
      expect(hf.encode(t, { addSpecial: true }), t).toEqual(loaded.tokenizer.encode(t, { addSpecial: true }));
    }
  });

  it("st from a HF folder (gte vocab, CLS): copies its tokenizer files, keeps CLS; f16 halves the matrices only", async () => {
    const src = await hfFolderFromGguf(gguf, path.join(tmp, "gte-src"), "models/gte-small-tokenizer", {
      pooling: "cls",
    });
    const model = await loadBert(src);
    const dir = path.join(tmp, "gte-f16");
    await saveEncoder(model.model, dir, { source: src, dtype: "f16", normalize: false });
    for (const f of ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"]) {
      const same = (await readFile(path.join(dir, f))).equals(
        await readFile(fixture(`models/gte-small-tokenizer/${f}`)),
      );
      expect(same, f).toBe(true);
    }
    const modules = (await json(path.join(dir, "modules.json"))) as unknown as { type: string }[];
    expect(modules.map((m) => m.type.split(".").pop())).toEqual(["Transformer", "Pooling"]);
    expect(await json(path.join(dir, "config.json"))).toMatchObject({ torch_dtype: "float16", model_type: "bert" });
    const header = await safetensorsHeader(path.join(dir, "model.safetensors"));
    expect(header["encoder.layer.0.attention.self.query.weight"]!.dtype).toBe("F16");
    expect(header["encoder.layer.0.attention.self.query.bias"]!.dtype).toBe("F32");
    const back = await loadBertFolder(dir);
    expect(back.model.config.pooling).toBe("cls");
    const a = embedWith(back, texts.slice(0, 40), "cls");
    const b = embedWith(model, texts.slice(0, 40), "cls");
    expect(Math.min(...a.map((v, i) => cosine(v, b[i]!)))).toBeGreaterThanOrEqual(0.9999);
  });

  it("merges a LoRA adapter into the weights it is attached to", async () => {
    const model = (await loadBertGguf(gguf)).model;
    const rng = new Rng(3);
    for (const name of ["blk.0.attn_q", "blk.1.ffn_down"]) {
      const lin = model.linears().get(name)!;
      const lora = new LoraAdapter(lin.inFeatures, lin.outFeatures, { r: 4, alpha: 8 }, rng);
      lora.b.data.forEach((_, i) => (lora.b.data[i] = rng.uniform() - 0.5));
      lin.adapter = lora;
    }
    // an adapter without LoRA's delta() is merged through its output for the identity: the same weight
    const q = model.linears().get("blk.0.attn_q")!;
    const lora = q.adapter!;
    const viaDelta = mergedWeight(q);
    q.adapter = { forward: (x) => lora.forward(x) };
    const viaIdentity = mergedWeight(q);
    q.adapter = lora;
    expect(Math.max(...viaDelta.map((v, i) => Math.abs(v - viaIdentity[i]!)))).toBeLessThan(1e-6);
    const withAdapter = embedWith({ ...loaded, model }, texts.slice(0, 30), "mean");
    const dir = path.join(tmp, "lora");
    await saveEncoder(model, dir, { source: gguf });
    const merged = embedWith(await loadBertFolder(dir), texts.slice(0, 30), "mean");
    expect(Math.min(...merged.map((v, i) => cosine(v, withAdapter[i]!)))).toBeGreaterThanOrEqual(0.99999);
    expect(cosine(merged[0]!, embedWith(loaded, texts.slice(0, 1), "mean")[0]!)).toBeLessThan(0.999);
  });

  it("names a format it does not write, stops when cancelled, and refuses a GGUF of an encoder without a WordPiece vocabulary", async () => {
    await expect(
      saveEncoder(loaded.model, path.join(tmp, "bad"), { source: gguf, formats: ["pt" as never] }),
    ).rejects.toMatchObject({
      code: "export.bad_format",
      kind: "usage",
    });
    const events: string[] = [];
    const controller = new AbortController();
    const run = saveEncoder(loaded.model, path.join(tmp, "cancelled"), {
      source: gguf,
      formats: ["st", "gguf"],
      signal: controller.signal,
      onProgress: (e) => {
        events.push(`${e.task}:${e.done}/${e.total}`);
        controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });
    expect(events[0]).toBe("save encoder:0/2");
    const xlmr = { ...loaded.model, config: { ...loaded.model.config, arch: "xlm-roberta" } } as typeof loaded.model;
    await expect(saveEncoder(xlmr, path.join(tmp, "x"), { source: gguf, formats: ["gguf"] })).rejects.toMatchObject({
      code: "export.gguf_unsupported",
    });
  });
});
