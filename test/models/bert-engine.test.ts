// `engine:` embedders end to end: `infuse ingest --embedder engine:model.gguf` and
// `engine:hf-folder`, then `infuse ask` over dense retrieval; pooling from the folder's
// sentence-transformers config; XLM-RoBERTa's position offset; the errors that name what is unsupported.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgmlType, kv, writeGguf } from "../../src/formats/gguf/index.js";
import { openSafetensors, writeSafetensors, type SafetensorsTensorInput } from "../../src/formats/safetensors.js";
import { loadBert } from "../../src/models/bert/index.js";
import { createEmbedder } from "../../src/rag/embed/index.js";
import { mainCli } from "../helpers/main-cli.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";
import { hfFolderFromGguf } from "./bert-helpers.js";
import { readFile } from "node:fs/promises";

const config = offlineConfig();
const DOCS: Record<string, string> = {
  "backups.md": "# Backups\n\nBackups run nightly at 02:00 and are kept for 35 days on the storage cluster.",
  "kitchen.md": "# Kitchen\n\nThe espresso machine in the kitchen is descaled every Friday by the office manager.",
  "vacation.md": "# Vacation\n\nEmployees request vacation days in the HR portal two weeks ahead.",
};

describe("engine: embedders", () => {
  let tmp: string;
  let gguf: string;
  let folder: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bert-engine-"));
    gguf = await writeTinyBertGguf(path.join(tmp, "model.gguf"), { hidden: 32, layers: 1, heads: 2, seed: 3 });
    folder = await hfFolderFromGguf(gguf, path.join(tmp, "hf"), undefined, { pooling: "cls" });
    await mkdir(path.join(tmp, "docs"));
    for (const [name, text] of Object.entries(DOCS)) await writeFile(path.join(tmp, "docs", name), text);
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  for (const which of ["gguf", "folder"] as const) {
    it(`infuse ingest --embedder engine:${which} then ask (dense) finds the passage`, async () => {
      const env = { INFUSE_HOME: path.join(tmp, `home-${which}`) };
      const spec = `engine:${which === "gguf" ? gguf : folder}`;
      const ingest = await mainCli(
        ["ingest", path.join(tmp, "docs"), "--collection", "c", "--embedder", spec, "--json"],
        env,
      );
      expect(ingest.code, ingest.stderr).toBe(0);
      expect(JSON.parse(ingest.stdout)).toMatchObject({ collection: "c", chunks_total: 3, failed: [] });
      const show = JSON.parse((await mainCli(["collections", "show", "c", "--json"], env)).stdout);
      expect(JSON.stringify(show)).toContain(spec);
      const ask = await mainCli(
        ["ask", "espresso machine kitchen descaled", "--collection", "c", "--mode", "dense", "--json"],
        env,
      );
      expect(ask.code, ask.stderr).toBe(0);
      const json = JSON.parse(ask.stdout);
      expect(json.sources[0]).toMatchObject({ source: "kitchen.md", retriever: "dense" });
    });
  }

  it("takes the folder's sentence-transformers pooling (CLS) and the GGUF's (mean); an option overrides both", async () => {
    const fromFolder = await createEmbedder(`engine:${folder}`, { config });
    const fromGguf = await createEmbedder(`engine:${gguf}`, { config });
    const ggufCls = await createEmbedder(`engine:${gguf}`, { config, pooling: "cls" });
    expect(fromFolder.id).toBe(`engine:${folder};pooling=cls`);
    expect(fromGguf.id).toBe(`engine:${gguf};pooling=mean`);
    const text = ["pooling decides the vector"];
    const [a] = await fromFolder.embedPassages(text);
    const [b] = await ggufCls.embedPassages(text);
    const [c] = await fromGguf.embedPassages(text);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(await fromGguf.dimension()).toBe(32);
    const counter = await fromGguf.tokenizer!();
    expect(counter.countTokens("Hello world, unbelievable!")).toBe(5);
  });

  it("prefixes queries and passages through EmbedSettings", async () => {
    const e5 = await createEmbedder(`engine:${gguf}`, { config, queryPrefix: "query: ", passagePrefix: "passage: " });
    const plain = await createEmbedder(`engine:${gguf}`, { config });
    const [q] = await e5.embedQueries(["sleeping cats"]);
    const [same] = await plain.embedPassages(["query: sleeping cats"]);
    expect(q).toEqual(same);
    expect(e5.id).toBe(`engine:${gguf};pooling=mean;query="query: ";passage="passage: "`);
  });

  it("embeds empty and over-long texts (cut to the model's positions, closing [SEP] kept), the same in a batch as alone", async () => {
    const e = await createEmbedder(`engine:${gguf}`, { config });
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    const texts = ["", "short", long];
    const batched = await e.embedPassages(texts);
    for (let i = 0; i < texts.length; i++) {
      const [alone] = await e.embedPassages([texts[i]!]);
      for (let j = 0; j < 32; j++) expect(batched[i]![j]).toBeCloseTo(alone![j]!, 5);
    }
  });

  it("XLM-RoBERTa folders: positions start at padding_idx + 1, as llama.cpp's conversion drops those rows", async () => {
    const xlmr = path.join(tmp, "xlmr");
    await hfFolderFromGguf(gguf, xlmr, undefined, { prefix: "roberta." });
    const st = await openSafetensors(path.join(xlmr, "model.safetensors"));
    const tensors: SafetensorsTensorInput[] = [];
    for (const t of st.tensors) {
      let data = await st.readTensorF32(t.name);
      let shape = [...t.shape];
      if (t.name.endsWith("position_embeddings.weight")) {
        // two extra rows in front (padding_idx 1 + 1), filled with junk that must never be read
        data = Float32Array.from([...new Array<number>(2 * shape[1]!).fill(7), ...data]);
        shape = [shape[0]! + 2, shape[1]!];
      }
      tensors.push({ name: t.name, shape, dtype: "F32", data });
    }
    st.close();
    await writeSafetensors(path.join(xlmr, "model.safetensors"), tensors);
    const cfg = JSON.parse(await readFile(path.join(xlmr, "config.json"), "utf8"));
    const xcfg = {
      ...cfg,
      model_type: "xlm-roberta",
      pad_token_id: 1,
      max_position_embeddings: cfg.max_position_embeddings + 2,
    };
    await writeFile(path.join(xlmr, "config.json"), JSON.stringify(xcfg));
    const loaded = await loadBert(xlmr);
    expect(loaded.model.config).toMatchObject({ arch: "xlm-roberta", positionOffset: 2, maxTokens: 128 });
    const [x] = await (
      await createEmbedder(`engine:${xlmr}`, { config, pooling: "mean" })
    ).embedPassages(["positions"]);
    const [g] = await (await createEmbedder(`engine:${gguf}`, { config })).embedPassages(["positions"]);
    for (let i = 0; i < 32; i++) expect(x![i]).toBeCloseTo(g![i]!, 5);
  });

  it("names the architecture it does not run, and refuses an adapter", async () => {
    const nomic = path.join(tmp, "nomic.gguf");
    await writeGguf(nomic, {
      metadata: { "general.architecture": kv.str("nomic-bert") },
      tensors: [{ name: "token_embd.weight", dims: [4, 2], type: GgmlType.F32, data: new Float32Array(8) }],
    });
    await expect(loadBert(nomic)).rejects.toMatchObject({
      code: "model.unsupported_arch",
      kind: "input",
      message: expect.stringContaining('"nomic-bert"'),
    });
    const dir = path.join(tmp, "modern");
    await mkdir(dir);
    await writeFile(path.join(dir, "config.json"), JSON.stringify({ model_type: "modernbert" }));
    await expect(loadBert(dir)).rejects.toMatchObject({
      code: "model.unsupported_arch",
      message: expect.stringContaining('"modernbert"'),
    });
    await expect(createEmbedder(`engine:${gguf}+adapter`, { config })).rejects.toMatchObject({
      code: "embed.engine_adapter",
    });
    await expect(loadBert(path.join(tmp, "missing.gguf"))).rejects.toMatchObject({
      code: "model.not_found",
      kind: "not_found",
    });
  });
});
