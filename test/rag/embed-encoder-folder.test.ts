// A saved encoder used with no conversion step: `infuse ingest --embedder DIR` on a folder written by
// saveEncoder runs it in infuse's encoder (then `ask` finds the passage); its .gguf runs in llama.cpp
// to the same vectors; a folder with onnx/ stays with transformers.js; the folder's query prompt
// becomes the query prefix; a folder that is no model says what each backend would need.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBertGguf } from "../../src/models/bert/index.js";
import { saveEncoder } from "../../src/models/bert/export/index.js";
import { createEmbedder } from "../../src/rag/embed/index.js";
import { mainCli } from "../helpers/main-cli.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";

const config = offlineConfig();
const DOCS: Record<string, string> = {
  "backups.md": "# Backups\n\nBackups run nightly at 02:00 and are kept for 35 days on the storage cluster.",
  "kitchen.md": "# Kitchen\n\nThe espresso machine in the kitchen is descaled every Friday by the office manager.",
  "vacation.md": "# Vacation\n\nEmployees request vacation days in the HR portal two weeks ahead.",
};
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0); // unit vectors

describe("a saved encoder as --embedder", () => {
  let tmp: string;
  let dir: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-encoder-folder-"));
    const gguf = await writeTinyBertGguf(path.join(tmp, "tiny.gguf"), { hidden: 32, layers: 1, heads: 2, seed: 3 });
    const { model } = await loadBertGguf(gguf);
    dir = path.join(tmp, "tuned");
    await saveEncoder(model, dir, { source: gguf, formats: ["st", "gguf"], pooling: "cls" });
    await mkdir(path.join(tmp, "docs"));
    for (const [name, text] of Object.entries(DOCS)) await writeFile(path.join(tmp, "docs", name), text);
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it("ingest --embedder DIR runs the folder in infuse's encoder; ask finds the passage", async () => {
    const env = { INFUSE_HOME: path.join(tmp, "home") };
    const ingest = await mainCli(
      ["ingest", path.join(tmp, "docs"), "--collection", "c", "--embedder", dir, "--json"],
      env,
    );
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(JSON.parse(ingest.stdout)).toMatchObject({ collection: "c", chunks_total: 3, failed: [] });
    const ask = await mainCli(
      ["ask", "espresso machine kitchen descaled", "--collection", "c", "--mode", "dense", "--json"],
      env,
    );
    expect(ask.code, ask.stderr).toBe(0);
    expect(JSON.parse(ask.stdout).sources[0]).toMatchObject({ source: "kitchen.md", retriever: "dense" });
    const e = await createEmbedder(dir, { config });
    expect(e.id).toBe(`engine:${dir};pooling=cls`);
  });

  it("the folder's .gguf embeds in llama.cpp to the folder's vectors", async () => {
    const texts = ["backups run nightly", "the espresso machine is descaled on Fridays"];
    const folder = await (await createEmbedder(dir, { config })).embedPassages(texts);
    const llama = await createEmbedder(path.join(dir, "model.gguf"), { config });
    try {
      const got = await llama.embedPassages(texts);
      for (let i = 0; i < texts.length; i++) expect(cosine(got[i]!, folder[i]!)).toBeGreaterThanOrEqual(0.9999);
    } finally {
      await llama.dispose?.();
    }
  });

  it("a folder with onnx/ runs in transformers.js; the folder's query prompt is the query prefix", async () => {
    const { model } = await loadBertGguf(path.join(dir, "model.gguf"));
    const both = path.join(tmp, "both");
    await saveEncoder(model, both, { source: dir, formats: ["st", "onnx"], prompts: { query: "query: " } });
    const onnx = await createEmbedder(both, { config });
    const engine = await createEmbedder(dir, { config });
    try {
      expect(onnx.id).toBe(`onnx:${both};pooling=cls;query="query: "`);
      const [q] = await onnx.embedQueries(["sleeping cats"]);
      const [p] = await engine.embedPassages(["query: sleeping cats"]);
      expect(cosine(q!, p!)).toBeGreaterThanOrEqual(0.9999);
    } finally {
      await onnx.dispose?.();
    }
  });

  it("a folder that is no model names what each backend needs", async () => {
    const llama = path.join(tmp, "llama-config");
    await mkdir(llama);
    await writeFile(path.join(llama, "config.json"), JSON.stringify({ model_type: "llama" }));
    await expect(createEmbedder(llama, { config })).rejects.toMatchObject({
      code: "embed.unrecognised_folder",
      kind: "input",
      message: expect.stringMatching(/no onnx\/model\.onnx.*model_type "llama" is not bert.*no \.gguf/),
    });
    const noWeights = path.join(tmp, "no-weights");
    await mkdir(noWeights);
    await writeFile(path.join(noWeights, "config.json"), JSON.stringify({ model_type: "bert" }));
    await expect(createEmbedder(noWeights, { config })).rejects.toMatchObject({
      message: expect.stringContaining("names a bert encoder but there is no model.safetensors"),
    });
  });
});
