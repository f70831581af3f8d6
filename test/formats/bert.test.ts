// BERT-architecture GGUFs that llama.cpp loads as embedding models: written directly with our
// writer (WordPiece vocabulary of all-MiniLM-L6-v2), and converted from a HF BERT folder.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { ggufVocabFromTokenizerJson } from "../../src/formats/convert/vocab.js";
import { openGguf, writeGguf } from "../../src/formats/gguf/index.js";
import { writeSafetensors, type SafetensorsTensorInput } from "../../src/formats/safetensors.js";
import { fixture } from "../helpers/fixtures.js";
import { oracle, disposeOracle } from "./oracle.js";
import { seededFloats, tinyBert } from "./tiny-models.js";
import { readFileSync } from "node:fs";

const MINILM = fixture("models/all-MiniLM-L6-v2-tokenizer");
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-bert-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterAll(disposeOracle);

async function embed(file: string, texts: string[]): Promise<number[][]> {
  const model = await (await oracle()).loadModel({ modelPath: file });
  const ctx = await model.createEmbeddingContext({ contextSize: 64, threads: 1 });
  try {
    const out: number[][] = [];
    for (const t of texts) out.push([...(await ctx.getEmbeddingFor(t)).vector]);
    return out;
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

function cosine(a: number[], b: number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((x, i) => {
    ab += x * b[i]!;
    aa += x * x;
    bb += b[i]! * b[i]!;
  });
  return ab / Math.sqrt(aa * bb);
}

describe("BERT GGUF for llama.cpp embeddings", () => {
  it("a written tiny BERT with the MiniLM WordPiece vocabulary embeds text", async () => {
    const md = ggufVocabFromTokenizerJson(
      JSON.parse(readFileSync(path.join(MINILM, "tokenizer.json"), "utf8")) as never,
    );
    const file = path.join(tmp, "tiny-bert.gguf");
    await writeGguf(file, tinyBert({ vocabSize: 30522, tokenizer: md, embd: 32 }));
    const [a, b, c] = await embed(file, ["hello world", "hello world", "a completely different sentence"]);
    expect(a).toHaveLength(32);
    expect(a!.every(Number.isFinite)).toBe(true);
    expect(cosine(a!, b!)).toBeCloseTo(1, 5);
    expect(cosine(a!, c!)).toBeLessThan(0.999);
  });

  it("a HF BERT folder (safetensors + MiniLM config/tokenizer) converts to a GGUF llama.cpp embeds with", async () => {
    const dir = path.join(tmp, "hf-bert");
    mkdirSync(dir);
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(path.join(MINILM, f), path.join(dir, f));
    const H = 32;
    const FF = 64;
    const config = {
      model_type: "bert",
      architectures: ["BertModel"],
      hidden_size: H,
      intermediate_size: FF,
      num_attention_heads: 2,
      num_hidden_layers: 1,
      max_position_embeddings: 64,
      vocab_size: 30522,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
    };
    await import("node:fs/promises").then((fs) => fs.writeFile(path.join(dir, "config.json"), JSON.stringify(config)));
    let seed = 1;
    const t = (name: string, shape: number[], base = 0): SafetensorsTensorInput => ({
      name,
      shape,
      dtype: "F32",
      data: seededFloats(
        shape.reduce((x, y) => x * y, 1),
        seed++,
        0.1,
      ).map((v) => v + base),
    });
    const L = "encoder.layer.0";
    await writeSafetensors(path.join(dir, "model.safetensors"), [
      t("embeddings.word_embeddings.weight", [30522, H]),
      t("embeddings.position_embeddings.weight", [64, H]),
      t("embeddings.token_type_embeddings.weight", [2, H]),
      t("embeddings.LayerNorm.weight", [H], 1),
      t("embeddings.LayerNorm.bias", [H]),
      ...["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"].flatMap(
        (m) => [t(`${L}.${m}.weight`, [H, H]), t(`${L}.${m}.bias`, [H])],
      ),
      t(`${L}.attention.output.LayerNorm.weight`, [H], 1),
      t(`${L}.attention.output.LayerNorm.bias`, [H]),
      t(`${L}.intermediate.dense.weight`, [FF, H]),
      t(`${L}.intermediate.dense.bias`, [FF]),
      t(`${L}.output.dense.weight`, [H, FF]),
      t(`${L}.output.dense.bias`, [H]),
      t(`${L}.output.LayerNorm.weight`, [H], 1),
      t(`${L}.output.LayerNorm.bias`, [H]),
      t("pooler.dense.weight", [H, H]),
    ]);
    const out = path.join(tmp, "converted-bert.gguf");
    const r = await convertHfToGguf(dir, out, { outType: "F16" });
    expect(r.architecture).toBe("bert");
    const g = await openGguf(out);
    expect(g.tensor("blk.0.layer_output_norm.bias")).toBeDefined();
    expect(g.tensor("pooler.dense.weight")).toBeUndefined();
    g.close();
    const [a, b] = await embed(out, ["hello world", "goodbye moon"]);
    expect(a).toHaveLength(H);
    expect(cosine(a!, b!)).toBeLessThan(0.9999);
  });
});
