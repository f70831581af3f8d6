// saveEncoder's GGUF: llama.cpp (node-llama-cpp, prebuilt CPU build) embeds with the written file at
// cosine ≥ 0.9999 per text to our engine (mean and CLS pooling as pooling_type), and our loader reads
// it back to the same vectors.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openGguf, plainValue } from "../../src/formats/gguf/index.js";
import { loadBert, loadBertGguf } from "../../src/models/bert/index.js";
import { saveEncoder } from "../../src/models/bert/export/index.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";
import { cosine, embedWith } from "./bert-export-helpers.js";
import { hfFolderFromGguf, variedTexts } from "./bert-helpers.js";
import { loadOracleModel } from "./oracle.js";

describe("saveEncoder: GGUF for llama.cpp", () => {
  let tmp: string;
  let texts: string[];
  let gguf: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bert-export-gguf-"));
    texts = await variedTexts(60);
    gguf = await writeTinyBertGguf(path.join(tmp, "tiny.gguf"), {
      hidden: 64,
      layers: 2,
      heads: 4,
      seed: 8,
      tokenizerDir: "models/gte-small-tokenizer",
    });
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  for (const pooling of ["mean", "cls"] as const) {
    it(`gguf (${pooling}): llama.cpp embeds with it at cosine ≥ 0.9999 to our engine; our loader reads it back`, async () => {
      const src = await hfFolderFromGguf(gguf, path.join(tmp, `src-${pooling}`), undefined, { pooling });
      const model = await loadBert(src);
      const dir = path.join(tmp, `gguf-${pooling}`);
      const saved = await saveEncoder(model.model, dir, { source: src, formats: ["gguf"], name: "tuned" });
      expect(saved.gguf).toBe(path.join(dir, "tuned.gguf"));
      const g = await openGguf(saved.gguf!);
      expect(plainValue(g.get("bert.pooling_type"))).toBe(pooling === "cls" ? 2 : 1);
      expect(plainValue(g.get("tokenizer.ggml.token_type_count"))).toBe(2);
      g.close();
      const ours = embedWith(model, texts, pooling);
      expect(embedWith(await loadBertGguf(saved.gguf!), texts, pooling)).toEqual(ours);
      const oracle = await loadOracleModel(saved.gguf!);
      const ctx = await oracle.createEmbeddingContext({ contextSize: 128, batchSize: 128, threads: 1 });
      try {
        let worst = 1;
        for (const [i, t] of texts.entries())
          worst = Math.min(worst, cosine((await ctx.getEmbeddingFor(t)).vector, ours[i]!));
        expect(worst).toBeGreaterThanOrEqual(0.9999);
      } finally {
        await ctx.dispose();
        await oracle.dispose();
      }
    });
  }
});
