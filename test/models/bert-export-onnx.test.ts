// saveEncoder's ONNX output: transformers.js (@huggingface/transformers, local files only) loads the
// written folder (config.json + tokenizer.json + onnx/model.onnx) and its pooled vectors match our
// engine's at cosine ≥ 0.9999 (mean and CLS); onnxruntime-node runs the graph to the engine's hidden
// states, XLM-RoBERTa's position offset included.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { env, pipeline } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BertModel, encodeTexts, loadBert, loadBertGguf, type LoadedBert } from "../../src/models/bert/index.js";
import { saveEncoder } from "../../src/models/bert/export/index.js";
import { noGrad, Tensor } from "../../src/tensor/index.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";
import { cosine, embedWith } from "./bert-export-helpers.js";
import { hfFolderFromGguf, variedTexts } from "./bert-helpers.js";

const int64 = (x: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor("int64", BigInt64Array.from(Array.from(x, (v) => BigInt(v))), dims);

/** Largest |ours − onnxruntime| over the real (unpadded) tokens' hidden states. */
async function ortMaxDiff(loaded: LoadedBert, file: string, texts: string[]): Promise<number> {
  const session = await ort.InferenceSession.create(file);
  try {
    const e = encodeTexts(loaded.tokenizer, texts, loaded.model.config.maxTokens);
    const dims = [e.batch, e.t];
    const out = await session.run({
      input_ids: int64(e.ids, dims),
      attention_mask: int64(e.attentionMask, dims),
      token_type_ids: int64(new Int32Array(e.ids.length), dims),
    });
    const got = out["last_hidden_state"]!.data as Float32Array;
    const want = noGrad(() =>
      loaded.model.forward({ ids: e.ids, batch: e.batch, attentionMask: e.attentionMask }),
    ).data;
    const c = loaded.model.config.dim;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      if (e.attentionMask[Math.floor(i / c)]) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
    }
    return worst;
  } finally {
    await session.release();
  }
}

describe("saveEncoder: ONNX for transformers.js and onnxruntime", () => {
  let tmp: string;
  let texts: string[];
  let gguf: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bert-onnx-"));
    texts = await variedTexts(60);
    gguf = await writeTinyBertGguf(path.join(tmp, "tiny.gguf"), { hidden: 64, layers: 2, heads: 4, seed: 5 });
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  for (const pooling of ["mean", "cls"] as const) {
    it(`transformers.js loads the folder by name under env.localModelPath and pools (${pooling}) to our vectors`, async () => {
      // mean: straight from the GGUF (tokenizer.json rebuilt from its vocabulary); CLS: from a HF folder
      const src =
        pooling === "mean"
          ? gguf
          : await hfFolderFromGguf(gguf, path.join(tmp, `src-${pooling}`), undefined, { pooling });
      const loaded = await loadBert(src);
      const name = `tuned-${pooling}`;
      // onnx alone still writes what transformers.js reads beside it
      const saved = await saveEncoder(loaded.model, path.join(tmp, name), { source: src, formats: ["onnx"] });
      expect(saved.onnx).toBe(path.join(tmp, name, "onnx", "model.onnx"));
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = tmp;
      const extractor = await pipeline("feature-extraction", name, { local_files_only: true, dtype: "fp32" });
      try {
        const out = await extractor(texts, { pooling, normalize: false });
        const [rows, dim] = out.dims as [number, number];
        expect([rows, dim]).toEqual([texts.length, 64]);
        const data = out.data as Float32Array;
        const ours = embedWith(loaded, texts, pooling);
        const worst = Math.min(...ours.map((v, i) => cosine(v, data.subarray(i * dim, (i + 1) * dim))));
        expect(worst).toBeGreaterThanOrEqual(0.9999);
      } finally {
        await extractor.dispose();
      }
      expect(await ortMaxDiff(loaded, saved.onnx!, texts.slice(0, 20))).toBeLessThan(1e-4);
    });
  }

  it("onnxruntime-node runs an XLM-RoBERTa-shaped encoder (positions from padding_idx + 1) to our hidden states", async () => {
    const base = await loadBertGguf(gguf);
    const { config, weights } = base.model;
    const c = config.dim;
    // two leading position rows that a wrong offset would read
    const pos = new Float32Array((config.maxPositions + 2) * c).fill(5);
    pos.set(weights.positionEmbd.data, 2 * c);
    const model = new BertModel(
      { ...config, arch: "xlm-roberta", positionOffset: 2, maxPositions: config.maxPositions + 2 },
      { ...weights, positionEmbd: new Tensor(pos, [config.maxPositions + 2, c]) },
    );
    const src = await hfFolderFromGguf(gguf, path.join(tmp, "src-x"));
    const saved = await saveEncoder(model, path.join(tmp, "xlmr"), { source: src, formats: ["st", "onnx"] });
    const back = await loadBert(saved.dir);
    expect(back.model.config).toMatchObject({ arch: "xlm-roberta", positionOffset: 2, maxTokens: config.maxTokens });
    expect(embedWith(back, texts.slice(0, 10), "mean")).toEqual(embedWith(base, texts.slice(0, 10), "mean"));
    expect(await ortMaxDiff({ ...base, model }, saved.onnx!, texts.slice(0, 20))).toBeLessThan(1e-4);
  });
});
