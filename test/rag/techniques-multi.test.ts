// MMR, sentence-window / parent-document expansion, multi-index fusion and routing, and
// embedding-based compression, on hand-made data where the right answer is known. Retrieval runs
// on real collections (LanceDB BM25 and the model-free hashing embedder).
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compressHits, EmbeddingCompressor, sentencesOf } from "../../src/rag/compress/compress.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { mmrSelect, MmrRetriever } from "../../src/rag/multi/mmr.js";
import { MultiIndexRetriever, parseRoute } from "../../src/rag/multi/multi-index.js";
import { ExpandingRetriever, mergeChunks } from "../../src/rag/multi/window.js";
import { ingestRecords } from "../../src/rag/pipeline/ingest.js";
import { createRetriever } from "../../src/rag/retrieve/index.js";
import { LanceDbStoreProvider, type CollectionStore } from "../../src/rag/store/index.js";
import type { Chunk, Hit } from "../../src/rag/types.js";

const embedder = new HashingEmbedder();
let dataDir: string;
const stores: CollectionStore[] = [];

async function collection(name: string, docs: { id: string; text: string }[], splitter = { kind: "none" as const }) {
  await ingestRecords(name, docs, { dataDir, embedder, splitter });
  const store = await new LanceDbStoreProvider(dataDir).open(name);
  stores.push(store);
  return store;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-techniques-"));
});
afterAll(() => stores.forEach((s) => s.close()));

describe("mmrSelect", () => {
  // q = (1, 0); A and A' identical with cos 0.9 to q; B has cos 0.8 to q and 0.458 to A
  const q = Float32Array.from([1, 0]);
  const a = Float32Array.from([0.9, Math.sqrt(1 - 0.81)]);
  const b = Float32Array.from([0.8, -0.6]);

  it("puts a different hit before a near-duplicate at λ = 0.5", () => {
    // step 2: A' scores 0.5·0.9 − 0.5·1 = −0.05, B scores 0.5·0.8 − 0.5·0.458 = 0.171
    expect(mmrSelect(q, [a, a, b], 3, 0.5)).toEqual([0, 2, 1]);
  });

  it("is plain relevance order at λ = 1", () => {
    expect(mmrSelect(q, [b, a, a], 3, 1)).toEqual([1, 2, 0]);
  });
});

describe("MmrRetriever", () => {
  it("replaces a duplicate in the top 2 with the other relevant document", async () => {
    const store = await collection("mmr", [
      { id: "d1", text: "penguins breed in the antarctic winter on sea ice" },
      { id: "d2", text: "penguins breed in the antarctic winter on the sea ice" },
      { id: "d3", text: "penguins eat krill and fish" },
    ]);
    const dense = createRetriever("dense", store, embedder);
    const query = "penguins breed in the antarctic winter and eat krill";
    const plain = await dense.retrieve(query, { topK: 2 });
    expect(plain.map((h) => h.chunk.metadata["doc_id"]).sort()).toEqual(["d1", "d2"]);
    // hashing cosines to the query: d1 0.65, d2 0.64, d3 0.40; d1 and d2 nearly identical
    const diverse = await new MmrRetriever(dense, embedder, { lambda: 0.5 }).retrieve(query, { topK: 2 });
    expect(diverse.map((h) => h.chunk.metadata["doc_id"])).toEqual(["d1", "d3"]);
    expect(diverse[0]!.retriever).toBe("dense+mmr");
  });
});

describe("ExpandingRetriever", () => {
  const text =
    "Alpha opens the story. Bravo follows it. Charlie holds the secret key. Delta closes the door. Echo ends it.";

  it("widens a sentence hit to its neighbours, or to the whole parent document", async () => {
    const store = await collection("win", [{ id: "doc", text }], {
      kind: "sentence",
      chunkSize: 30,
      overlap: 0,
    } as never);
    const bm25 = createRetriever("bm25", store, undefined);
    const [hit] = await bm25.retrieve("secret key", { topK: 1 });
    expect(hit!.chunk.text).toBe("Charlie holds the secret key.");
    const [win] = await new ExpandingRetriever(bm25, store, { mode: "window", size: 1 }).retrieve("secret key", {
      topK: 1,
    });
    expect(win!.chunk.text).toBe("Bravo follows it. Charlie holds the secret key. Delta closes the door.");
    const [parent] = await new ExpandingRetriever(bm25, store, { mode: "parent" }).retrieve("secret key", { topK: 1 });
    expect(parent!.chunk.text).toBe(text);
    const [capped] = await new ExpandingRetriever(bm25, store, { mode: "parent", maxChars: 70 }).retrieve(
      "secret key",
      { topK: 1 },
    );
    expect(capped!.chunk.text).toContain("Charlie holds the secret key.");
    expect(capped!.chunk.text.length).toBeLessThanOrEqual(72);
  });

  it("merges overlapping chunks without repeating the overlap", () => {
    const c = (start: number, end: number, t: string): Chunk => ({
      id: `${start}`,
      text: t,
      source: "s",
      start,
      end,
      metadata: {},
    });
    // "abcdefgh": [0,5) "abcde" and [3,8) "defgh" overlap on "de"
    expect(mergeChunks([c(0, 5, "abcde"), c(3, 8, "defgh")]).text).toBe("abcdefgh");
  });
});

describe("MultiIndexRetriever", () => {
  it("fuses collections, routes by description, and tags hits with their collection", async () => {
    const cooking = await collection("cooking", [
      { id: "c1", text: "bake the bread for forty minutes at 220 degrees" },
      { id: "c2", text: "simmer the soup with onions" },
    ]);
    const astronomy = await collection("astronomy", [
      { id: "a1", text: "a comet tail points away from the sun" },
      { id: "a2", text: "bread-shaped galaxies do not exist" },
    ]);
    const sources = [
      {
        name: "cooking",
        description: "recipes: how to bake bread, cook soup",
        retriever: createRetriever("bm25", cooking, undefined),
      },
      {
        name: "astronomy",
        description: "space: a comet, its tail, stars, the sun",
        retriever: createRetriever("bm25", astronomy, undefined),
      },
    ];
    const fused = await new MultiIndexRetriever(sources).retrieve("bread", { topK: 5 });
    expect(new Set(fused.map((h) => h.chunk.metadata["collection"]))).toEqual(new Set(["cooking", "astronomy"]));
    const routed = new MultiIndexRetriever(sources, { mode: "route-embedding", embedder });
    const hits = await routed.retrieve("how long to bake bread", { topK: 5 });
    expect(routed.lastRoute).toEqual(["cooking"]);
    expect(hits.map((h) => h.chunk.metadata["doc_id"])).toEqual(["c1"]);
    await routed.retrieve("which way does a comet tail point", { topK: 5 });
    expect(routed.lastRoute).toEqual(["astronomy"]);
  });

  it("reads collection names from an LLM's reply", () => {
    expect(parseRoute("cooking", ["cooking", "astronomy"])).toEqual(["cooking"]);
    expect(parseRoute("I think Astronomy, then cooking.", ["cooking", "astronomy"])).toEqual(["astronomy", "cooking"]);
    expect(parseRoute("cookingx", ["cooking"])).toEqual([]);
  });
});

describe("EmbeddingCompressor", () => {
  const hit = (text: string): Hit => ({
    chunk: { id: "x", text, source: "s", start: 0, end: text.length, metadata: {} },
    score: 1,
    retriever: "r",
  });
  const passage = "Penguins breed in winter. Bond yields fell sharply. Emperor penguins huddle for warmth.";

  it("keeps the sentences close to the question and reports the tokens saved", async () => {
    expect(sentencesOf(passage)).toHaveLength(3);
    // hashing cosines: sentence 1 shares penguins, breed, "penguins breed" (≈0.43); 3 only penguins (≈0.13); 2 nothing
    const { hits, stats } = await compressHits(
      "where do penguins breed",
      [hit(passage), hit("Bonds rallied.")],
      new EmbeddingCompressor(embedder, { threshold: 0.2 }),
    );
    expect(hits).toHaveLength(1);
    expect(hits[0]!.chunk.text).toBe("Penguins breed in winter.");
    expect(stats).toEqual({ tokensBefore: 15, tokensAfter: 4, saving: 1 - 4 / 15, droppedChunks: 1 });
    const top2 = await compressHits(
      "where do penguins breed",
      [hit(passage)],
      new EmbeddingCompressor(embedder, { top: 2 }),
    );
    expect(top2.hits[0]!.chunk.text).toBe("Penguins breed in winter. Emperor penguins huddle for warmth.");
  });
});
