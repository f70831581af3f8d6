// The engine's BERT encoder against llama.cpp (node-llama-cpp) on the same tiny GGUF, with the real
// MiniLM and gte WordPiece vocabularies: token ids equal, pooled vectors cosine ≥ 0.9999 per text
// over 200 texts (mean and CLS pooling); the same weights as a Hugging Face folder load to the same
// vectors; the onnxruntime and TypeScript kernel paths agree.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeTexts, loadBertFolder, loadBertGguf, type LoadedBert } from "../../src/models/bert/index.js";
import { noGrad, setMatmulPath } from "../../src/tensor/index.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";
import { loadOracleModel } from "./oracle.js";
import { hfFolderFromGguf, variedTexts } from "./bert-helpers.js";

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));

function ours(loaded: LoadedBert, texts: string[], pooling: "mean" | "cls"): Float32Array[] {
  const dim = loaded.model.config.dim;
  const out: Float32Array[] = [];
  for (let s = 0; s < texts.length; s += 50) {
    const enc = encodeTexts(loaded.tokenizer, texts.slice(s, s + 50), loaded.model.config.maxTokens);
    const v = noGrad(() =>
      loaded.model.encode({ ids: enc.ids, batch: enc.batch, attentionMask: enc.attentionMask }, pooling),
    );
    for (let b = 0; b < enc.batch; b++) out.push(v.data.slice(b * dim, (b + 1) * dim));
  }
  return out;
}

async function llamaCpp(model: LlamaModel, texts: string[]): Promise<number[][]> {
  const ctx = await model.createEmbeddingContext({ contextSize: 128, batchSize: 128, threads: 1 });
  try {
    const out: number[][] = [];
    for (const t of texts) out.push([...(await ctx.getEmbeddingFor(t)).vector]);
    return out;
  } finally {
    await ctx.dispose();
  }
}

describe("BERT encoder parity with llama.cpp", () => {
  let tmp: string;
  let texts: string[];
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bert-"));
    texts = await variedTexts(200);
  });
  afterAll(async () => {
    setMatmulPath("auto");
    await rm(tmp, { recursive: true, force: true });
  });

  for (const [vocab, dir] of [
    ["MiniLM", "models/all-MiniLM-L6-v2-tokenizer"],
    ["gte", "models/gte-small-tokenizer"],
  ] as const) {
    it(`${vocab} vocab: same token ids, cosine ≥ 0.9999 on 200 texts (mean pooling), HF folder = GGUF`, async () => {
      const file = await writeTinyBertGguf(path.join(tmp, `${vocab}.gguf`), {
        hidden: 64,
        layers: 2,
        heads: 4,
        tokenizerDir: dir,
        seed: 5,
      });
      const loaded = await loadBertGguf(file);
      expect(loaded.model.config).toMatchObject({ arch: "bert", dim: 64, layers: 2, heads: 4, pooling: "mean" });
      const oracle = await loadOracleModel(file);
      try {
        for (const t of texts)
          expect(loaded.tokenizer.encode(t, { addSpecial: false }), t).toEqual([...oracle.tokenize(t)]);
        const want = await llamaCpp(oracle, texts);
        const got = ours(loaded, texts, "mean");
        const worst = Math.min(...got.map((g, i) => cosine(g, want[i]!)));
        expect(worst).toBeGreaterThanOrEqual(0.9999);
      } finally {
        await oracle.dispose();
      }
      const folder = await hfFolderFromGguf(file, path.join(tmp, `${vocab}-hf`), dir);
      const hf = await loadBertFolder(folder);
      expect(hf.model.config.pooling).toBe("mean");
      const a = ours(hf, texts.slice(0, 40), "mean");
      const b = ours(loaded, texts.slice(0, 40), "mean");
      for (let i = 0; i < a.length; i++) expect(a[i]).toEqual(b[i]);
    });
  }

  it("CLS pooling matches llama.cpp's CLS-pooled GGUF; onnxruntime and TypeScript kernels agree", async () => {
    const file = await writeTinyBertGguf(path.join(tmp, "cls.gguf"), { hidden: 64, heads: 4, pooling: "cls", seed: 9 });
    const loaded = await loadBertGguf(file);
    expect(loaded.model.config.pooling).toBe("cls");
    const some = texts.slice(0, 30);
    const oracle = await loadOracleModel(file);
    try {
      const want = await llamaCpp(oracle, some);
      const got = ours(loaded, some, "cls");
      for (let i = 0; i < some.length; i++) expect(cosine(got[i]!, want[i]!)).toBeGreaterThanOrEqual(0.9999);
    } finally {
      await oracle.dispose();
    }
    setMatmulPath("ort");
    const fast = ours(loaded, some, "mean");
    setMatmulPath("reference");
    const slow = ours(loaded, some, "mean");
    setMatmulPath("auto");
    for (let i = 0; i < some.length; i++) expect(cosine(fast[i]!, slow[i]!)).toBeGreaterThanOrEqual(0.99999);
  });
});
