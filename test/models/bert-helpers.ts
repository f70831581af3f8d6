// Test helpers for the engine's encoder: the same tiny BERT weights as a GGUF (test/helpers/
// tiny-bert-gguf.ts) and as a Hugging Face folder (model.safetensors with HF names, config.json,
// the fixture tokenizer, sentence-transformers pooling), and varied texts from the fixtures.
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { openGguf, plainValue } from "../../src/formats/gguf/index.js";
import { ggufToHfName } from "../../src/formats/hf/names.js";
import { writeSafetensors, type SafetensorsTensorInput } from "../../src/formats/safetensors.js";
import { fixture } from "../helpers/fixtures.js";

/** Writes `dir` as a HF/sentence-transformers folder holding the GGUF's weights. */
export async function hfFolderFromGguf(
  gguf: string,
  dir: string,
  tokenizerDir = "models/all-MiniLM-L6-v2-tokenizer",
  options: { prefix?: string; pooling?: "mean" | "cls" } = {},
): Promise<string> {
  await mkdir(path.join(dir, "1_Pooling"), { recursive: true });
  const g = await openGguf(gguf);
  const num = (k: string) => Number(plainValue(g.get(`bert.${k}`)));
  const tensors: SafetensorsTensorInput[] = [];
  try {
    for (const t of g.tensors) {
      const name = ggufToHfName("bert", t.name);
      if (!name) throw new Error(`no HF name for ${t.name}`);
      tensors.push({
        name: `${options.prefix ?? ""}${name}`,
        shape: [...t.dims].reverse(),
        dtype: "F32",
        data: await g.readTensorF32(t.name),
      });
    }
  } finally {
    g.close();
  }
  const vocab = tensors.find((t) => t.name.endsWith("word_embeddings.weight"))!.shape[0];
  await writeSafetensors(path.join(dir, "model.safetensors"), tensors);
  const config = {
    architectures: ["BertModel"],
    model_type: "bert",
    hidden_size: num("embedding_length"),
    num_hidden_layers: num("block_count"),
    num_attention_heads: num("attention.head_count"),
    intermediate_size: num("feed_forward_length"),
    max_position_embeddings: num("context_length"),
    layer_norm_eps: num("attention.layer_norm_epsilon"),
    hidden_act: "gelu",
    type_vocab_size: 2,
    vocab_size: vocab,
    pad_token_id: 0,
  };
  await writeFile(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]) {
    await copyFile(fixture(`${tokenizerDir}/${f}`), path.join(dir, f));
  }
  const modules = [
    { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
    { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
    { idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" },
  ];
  await writeFile(path.join(dir, "modules.json"), JSON.stringify(modules));
  const pooling = options.pooling ?? "mean";
  await writeFile(
    path.join(dir, "1_Pooling", "config.json"),
    JSON.stringify({
      word_embedding_dimension: config.hidden_size,
      pooling_mode_cls_token: pooling === "cls",
      pooling_mode_mean_tokens: pooling === "mean",
    }),
  );
  return dir;
}

/** `n` varied texts: SciFact claims (numbers, symbols, Greek, chemistry) and a few odd strings, cut to 48 words. */
export async function variedTexts(n: number): Promise<string[]> {
  const lines = async (file: string) => (await readFile(fixture(file), "utf8")).split("\n").filter(Boolean);
  const claims = (await lines("datasets/scifact/queries.jsonl")).map((l) => (JSON.parse(l) as { text: string }).text);
  const out: string[] = [];
  for (let i = 0; out.length < n && i < claims.length; i += 5) out.push(claims[i]!);
  const extra = [
    "Ünïcödé naïve café — “quotes” & ümlauts",
    "Tiếng Việt có dấu: xin chào thế giới!",
    "e = mc² ≈ 9×10¹⁶ J/kg",
    "URL https://example.com/a_b?c=1#x",
    "UPPER lower MiXeD 12345 3.14159",
  ];
  out.splice(0, extra.length, ...extra);
  return out.slice(0, n).map((t) => t.split(/\s+/).slice(0, 48).join(" "));
}
