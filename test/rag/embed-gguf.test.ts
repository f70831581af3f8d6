// The node-llama-cpp embedder on a tiny BERT GGUF written by our GGUF writer (real MiniLM
// WordPiece vocab, random weights) and on the real stories260K llama GGUF.
import { AutoTokenizer, env } from "@huggingface/transformers";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbedder } from "../../src/rag/embed/index.js";
import type { Embedder } from "../../src/rag/types.js";
import { fixture } from "../helpers/fixtures.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";

const config = offlineConfig();
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));
const cosine = (a: Float32Array, b: Float32Array) => dot(a, b) / (norm(a) * norm(b));

describe("GGUF embedder (node-llama-cpp)", () => {
  let tmp: string;
  let bertFile: string;
  let bert: Embedder;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-embed-gguf-"));
    bertFile = await writeTinyBertGguf(path.join(tmp, "tiny-bert.gguf"));
    bert = await createEmbedder(bertFile, { config });
  });
  afterAll(async () => {
    await bert.dispose?.();
    await rm(tmp, { recursive: true, force: true });
  });

  it("loads the BERT GGUF as an embedder of the model's width, unit length", async () => {
    expect(bert.id).toBe(`gguf:${bertFile}`);
    expect(await bert.dimension()).toBe(32);
    const [v] = await bert.embedPassages(["The cat sat on the mat."]);
    expect(v).toHaveLength(32);
    expect(norm(v!)).toBeCloseTo(1, 5);
  });

  it("puts texts that share words closer than texts that share none", async () => {
    const [a, b, c] = await bert.embedPassages([
      "the cat sat on the mat",
      "the cat sat on a mat today",
      "quantum chromodynamics explains quarks",
    ]);
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!) + 0.2);
  });

  it("gives the same vectors in a batch as one by one, and embeds empty and over-long texts", async () => {
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    const texts = ["short", "a longer sentence about cats and dogs", long];
    const batched = await bert.embedPassages(texts);
    for (let i = 0; i < texts.length; i++) {
      const [single] = await bert.embedPassages([texts[i]!]);
      expect(cosine(batched[i]!, single!)).toBeCloseTo(1, 5);
    }
    const [empty] = await bert.embedPassages([""]);
    expect(empty).toHaveLength(32);
  });

  it("uses the pooling stored in the GGUF: a CLS-pooled file gives other vectors", async () => {
    const clsFile = await writeTinyBertGguf(path.join(tmp, "tiny-bert-cls.gguf"), { pooling: "cls" });
    const cls = await createEmbedder(clsFile, { config });
    const [m] = await bert.embedPassages(["pooling decides the vector"]);
    const [c] = await cls.embedPassages(["pooling decides the vector"]);
    expect(cosine(m!, c!)).toBeLessThan(0.99);
    await cls.dispose?.();
    await expect(createEmbedder(bertFile, { config, pooling: "cls" })).rejects.toMatchObject({
      code: "embed.pooling_fixed",
      kind: "usage",
    });
  });

  it("prefixes queries, and the id says so", async () => {
    const e5 = await createEmbedder(bertFile, { config, queryPrefix: "query: ", passagePrefix: "passage: " });
    const [q] = await e5.embedQueries(["sleeping cats"]);
    const [same] = await bert.embedPassages(["query: sleeping cats"]);
    const [p] = await e5.embedPassages(["sleeping cats"]);
    expect(cosine(q!, same!)).toBeCloseTo(1, 5);
    expect(cosine(q!, p!)).toBeLessThan(0.9999);
    expect(e5.id).toBe(`gguf:${bertFile};query="query: ";passage="passage: "`);
    await e5.dispose?.();
  });

  it("counts tokens as the Hugging Face tokenizer of the same vocab does", async () => {
    env.allowRemoteModels = false;
    const hf = await AutoTokenizer.from_pretrained(fixture("models/all-MiniLM-L6-v2-tokenizer"), {
      local_files_only: true,
    });
    const counter = await bert.tokenizer!();
    for (const text of ["Hello world, unbelievable!", "Retrieval-augmented generation (RAG) in 2024", "naïve café"]) {
      expect(counter.countTokens(text)).toBe(hf.encode(text, { add_special_tokens: false }).length);
    }
    expect(counter.countTokens("Hello world, unbelievable!")).toBe(5);
  });

  it("embeds with a llama-architecture GGUF too (stories260K)", async () => {
    const stories = await createEmbedder(fixture("models/stories260K-gguf/stories260K.gguf"), { config });
    expect(await stories.dimension()).toBe(64);
    const [a, b] = await stories.embedPassages(["Lily went to the park.", "Tom ate an apple."]);
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect(cosine(a!, b!)).toBeLessThan(0.9999);
    await stories.dispose?.();
  });
});
