// The transformers.js embedder on a tiny ONNX encoder written by the test (random weights,
// the real all-MiniLM-L6-v2 tokenizer): pooling, normalisation, batching, prefixes, ids, presets.
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProgressEvent } from "../../src/core/progress.js";
import { createEmbedder } from "../../src/rag/embed/index.js";
import type { Embedder } from "../../src/rag/types.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { writeTinyEncoder } from "../helpers/tiny-encoder.js";

const config = offlineConfig();
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));
const cosine = (a: Float32Array, b: Float32Array) => dot(a, b) / (norm(a) * norm(b));

describe("ONNX embedder (transformers.js, tiny encoder)", () => {
  let tmp: string;
  let folder: string;
  let mean: Embedder;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-embed-onnx-"));
    folder = await writeTinyEncoder(path.join(tmp, "tiny-encoder"));
    mean = await createEmbedder(folder, { config });
  });
  afterAll(async () => {
    await mean.dispose?.();
    await rm(tmp, { recursive: true, force: true });
  });

  it("reads the dimension from config.json and returns unit vectors of that length", async () => {
    expect(await mean.dimension()).toBe(32);
    const [v] = await mean.embedPassages(["The cat sat on the mat."]);
    expect(v).toHaveLength(32);
    expect(norm(v!)).toBeCloseTo(1, 5);
  });

  it("puts texts that share words closer than texts that share none", async () => {
    const [a, b, c] = await mean.embedPassages([
      "the cat sat on the mat",
      "the cat sat on a mat today",
      "quantum chromodynamics explains quarks",
    ]);
    expect(cosine(a!, b!)).toBeGreaterThan(0.6);
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!) + 0.2);
  });

  it("exposes the model's tokenizer as a token counter", async () => {
    const counter = await mean.tokenizer!();
    expect(counter.countTokens("Hello world, unbelievable!")).toBe(5);
    expect(counter.countTokens("")).toBe(0);
  });

  it("gives the same vectors in one padded batch as one by one", async () => {
    const texts = ["short", "a much longer sentence with many more word pieces in it", "", "médium-sized Ünïcode text"];
    const batched = await mean.embedPassages(texts);
    for (let i = 0; i < texts.length; i++) {
      const [single] = await mean.embedPassages([texts[i]!]);
      for (let j = 0; j < 32; j++) expect(batched[i]![j]).toBeCloseTo(single![j]!, 5);
    }
  });

  it("CLS pooling gives other vectors and another id than mean pooling", async () => {
    const cls = await createEmbedder(folder, { config, pooling: "cls" });
    const text = "retrieval augmented generation";
    const [m] = await mean.embedPassages([text]);
    const [c] = await cls.embedPassages([text]);
    expect(norm(c!)).toBeCloseTo(1, 5);
    expect(cosine(m!, c!)).toBeLessThan(0.99);
    expect(cls.id).not.toBe(mean.id);
    expect(cls.id).toContain("pooling=cls");
    expect(mean.id).toContain("pooling=mean");
    await cls.dispose?.();
  });

  it("normalize: false keeps the raw pooled vector, in the same direction", async () => {
    const raw = await createEmbedder(folder, { config, normalize: false });
    const text = "a vector before normalisation";
    const [r] = await raw.embedPassages([text]);
    const [n] = await mean.embedPassages([text]);
    expect(Math.abs(norm(r!) - 1)).toBeGreaterThan(0.01);
    expect(cosine(r!, n!)).toBeCloseTo(1, 5);
    expect(raw.id).toContain("normalize=false");
    await raw.dispose?.();
  });

  it("prefixes queries and passages with their instructions, and the id says so", async () => {
    const e5 = await createEmbedder(folder, { config, queryPrefix: "query: ", passagePrefix: "passage: " });
    const text = "how do cats sleep";
    const [q] = await e5.embedQueries([text]);
    const [p] = await e5.embedPassages([text]);
    const [plainQ] = await mean.embedQueries([`query: ${text}`]);
    const [plainP] = await mean.embedPassages([`passage: ${text}`]);
    expect(cosine(q!, p!)).toBeLessThan(0.9999);
    for (let j = 0; j < 32; j++) {
      expect(q![j]).toBeCloseTo(plainQ![j]!, 5);
      expect(p![j]).toBeCloseTo(plainP![j]!, 5);
    }
    expect(e5.id).toContain('query="query: "');
    expect(e5.id).toContain('passage="passage: "');
    const [mq] = await mean.embedQueries([text]);
    const [mp] = await mean.embedPassages([text]);
    expect(Array.from(mq!)).toEqual(Array.from(mp!));
    await e5.dispose?.();
  });

  it("applies the family preset from the model name and the folder's 1_Pooling config", async () => {
    const bgeDir = path.join(tmp, "bge-small-en-v1.5");
    await symlink(folder, bgeDir);
    const bge = await createEmbedder(bgeDir, { config });
    expect(bge.id).toContain("pooling=cls");
    expect(bge.id).toContain("Represent this sentence for searching relevant passages: ");
    const [q] = await bge.embedQueries(["cats"]);
    const [same] = await bge.embedPassages(["Represent this sentence for searching relevant passages: cats"]);
    expect(cosine(q!, same!)).toBeCloseTo(1, 5);
    await bge.dispose?.();

    const stDir = await writeTinyEncoder(path.join(tmp, "st-cls"), { stPooling: "cls" });
    const st = await createEmbedder(stDir, { config });
    expect(st.id).toContain("pooling=cls");
    expect(st.id).not.toContain("query=");
    await st.dispose?.();
  });

  it("embeds in batches with progress, and stops between batches when aborted", async () => {
    const small = await createEmbedder(folder, { config, batchSize: 2 });
    const events: ProgressEvent[] = [];
    const texts = ["one", "two", "three", "four", "five"];
    const out = await small.embedPassages(texts, { onProgress: (e) => events.push(e) });
    expect(out).toHaveLength(5);
    expect(events.map((e) => e.done)).toEqual([2, 4, 5]);
    expect(events.every((e) => e.total === 5 && e.unit === "texts")).toBe(true);

    const controller = new AbortController();
    const run = small.embedPassages(texts, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });
    expect(await small.embedPassages([])).toEqual([]);
    await small.dispose?.();
  });

  it("says which folder has no ONNX model, and hands 'hash' to the hashing embedder", async () => {
    const empty = path.join(tmp, "no-onnx");
    await mkdir(empty, { recursive: true });
    await writeFile(path.join(empty, "config.json"), "{}");
    await expect(createEmbedder(empty, { config })).rejects.toMatchObject({
      code: "embed.unrecognised_folder",
      kind: "input",
      message: expect.stringContaining(empty),
    });
    const hash = await createEmbedder("hash", { config });
    expect(hash.id).toMatch(/^hash-/);
  });
});
