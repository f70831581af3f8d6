// Retrieval over a real LanceDB collection: BM25 with English stemming and stop words, dense kNN
// with the hashing embedder, RRF and weighted fusion with per-retriever ranks, metadata filters.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HashingEmbedder, parseHashSpec } from "../../src/rag/embed/hashing.js";
import { ingestRecords } from "../../src/rag/pipeline/ingest.js";
import { createRetriever, fuse } from "../../src/rag/retrieve/index.js";
import { LanceDbStoreProvider, type CollectionStore } from "../../src/rag/store/index.js";
import type { Hit } from "../../src/rag/types.js";

const embedder = new HashingEmbedder();
const records = [
  { id: "run", text: "The runner runs every morning along the harbour wall.", metadata: { lang: "en", year: 2021 } },
  { id: "tide", text: "High tide floods the lower quay twice a month.", metadata: { lang: "en", year: 2022 } },
  {
    id: "storm",
    text: "Storm surge warnings are issued for the North Sea coast.",
    metadata: { lang: "en", year: 2022 },
  },
  { id: "fr", text: "La marée haute inonde le quai deux fois par mois.", metadata: { lang: "fr", year: 2022 } },
  { id: "the", text: "It is what it is, and that is that.", metadata: { lang: "en", year: 2020 } },
];

describe("hashing embedder", () => {
  it("is deterministic, unit length, and scores shared words above unrelated text", () => {
    const [a, b, c] = [
      embedder.embed("storm surge warning"),
      embedder.embed("Storm surge warnings today"),
      embedder.embed("fuel dock prices"),
    ];
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(a).toHaveLength(512);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(embedder.embed("storm surge warning")).toEqual(a);
    expect(dot(a, b)).toBeGreaterThan(0.4);
    expect(Math.abs(dot(a, c))).toBeLessThan(0.2);
    expect(embedder.id).toBe("hash-512");
    // with stop words dropped, texts sharing only stop words are orthogonal
    const stop = new HashingEmbedder({ dimension: 1024, bigrams: false, stopWords: true });
    expect(stop.id).toBe("hash-1024-unigram-stop");
    expect(dot(stop.embed("the cat and the dog"), stop.embed("the quay and the tide"))).toBe(0);
    expect(dot(embedder.embed("the cat and the dog"), embedder.embed("the quay and the tide"))).toBeGreaterThan(0.3);
    expect(parseHashSpec("hash")).toEqual({ dimension: 512, bigrams: true, stopWords: false });
    expect(parseHashSpec("hash-1024-unigram-stop")).toEqual({ dimension: 1024, bigrams: false, stopWords: true });
    expect(parseHashSpec("openai:x")).toBeUndefined();
    expect(() => new HashingEmbedder({ dimension: 3 })).toThrow(/dimension/);
  });
});

describe("retrievers", () => {
  let store: CollectionStore;
  beforeAll(async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-retrieve-"));
    await ingestRecords("r", records, { dataDir, embedder, splitter: { kind: "none" }, source: "notes" });
    store = await new LanceDbStoreProvider(dataDir).open("r");
  });
  afterAll(() => store.close());
  const ids = (hits: Hit[]) => hits.map((h) => h.chunk.metadata["doc_id"]);

  it("bm25 stems English words and drops stop words", async () => {
    const bm25 = createRetriever("bm25", store, undefined);
    expect(ids(await bm25.retrieve("running", { topK: 3 }))).toEqual(["run"]);
    expect(ids(await bm25.retrieve("flooding quays", { topK: 3 }))).toEqual(["tide"]);
    expect(await bm25.retrieve("what is that", { topK: 3 })).toEqual([]);
    const [hit] = await bm25.retrieve("storm", { topK: 1 });
    expect(hit).toMatchObject({ retriever: "bm25", sources: { bm25: { rank: 1 } } });
    expect(hit!.score).toBeGreaterThan(0);
  });

  it("dense ranks by cosine similarity of the query embedding", async () => {
    const hits = await createRetriever("dense", store, embedder).retrieve("storm surge warnings", { topK: 2 });
    expect(ids(hits)[0]).toBe("storm");
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits[0]).toMatchObject({ retriever: "dense", sources: { dense: { rank: 1 } } });
  });

  it("hybrid fuses both lists and shows each retriever's rank and score", async () => {
    const rrf = await createRetriever("hybrid", store, embedder).retrieve("tide floods quay", { topK: 3 });
    expect(rrf[0]!.chunk.metadata["doc_id"]).toBe("tide");
    expect(rrf[0]!.retriever).toBe("hybrid(rrf)");
    expect(Object.keys(rrf[0]!.sources!).sort()).toEqual(["bm25", "dense"]);
    expect(rrf[0]!.score).toBeCloseTo(2 / 61, 6);
    const weighted = await createRetriever("hybrid", store, embedder, { fusion: "weighted" }).retrieve(
      "tide floods quay",
      { topK: 3 },
    );
    expect(weighted[0]).toMatchObject({ retriever: "hybrid(weighted)", score: 2 });
  });

  it("fusion arithmetic: RRF sums 1/(k+rank); weighted sums min-max normalised scores", () => {
    const chunk = (id: string) => ({ id, text: id, source: "s", start: 0, end: 1, metadata: {} });
    const hit = (id: string, score: number): Hit => ({ chunk: chunk(id), score, retriever: "x" });
    const lists = { a: [hit("1", 9), hit("2", 5), hit("3", 1)], b: [hit("3", 0.9), hit("1", 0.5)] };
    const rrf = fuse(lists, "rrf", { rrfK: 10 });
    expect(rrf.map((h) => [h.chunk.id, Number(h.score.toFixed(4))])).toEqual([
      ["1", Number((1 / 11 + 1 / 12).toFixed(4))],
      ["3", Number((1 / 13 + 1 / 11).toFixed(4))],
      ["2", Number((1 / 12).toFixed(4))],
    ]);
    const weighted = fuse(lists, "weighted", { weights: { a: 1, b: 2 } });
    expect(weighted.map((h) => [h.chunk.id, h.score])).toEqual([
      ["3", 2],
      ["1", 1],
      ["2", 0.5],
    ]);
    expect(weighted[0]!.sources).toEqual({ a: { rank: 3, score: 1 }, b: { rank: 1, score: 0.9 } });
  });

  it("filters on metadata, source and lists of values", async () => {
    const hybrid = createRetriever("hybrid", store, embedder);
    expect(ids(await hybrid.retrieve("quay tide marée", { topK: 5, filter: { lang: "fr" } }))).toEqual(["fr"]);
    const y = await createRetriever("bm25", store, undefined).retrieve("quay storm runner", {
      topK: 5,
      filter: { year: [2021, 2022], lang: "en" },
    });
    expect(ids(y).sort()).toEqual(["run", "storm", "tide"]);
    expect(await hybrid.retrieve("tide", { topK: 5, filter: { source: "elsewhere" } })).toEqual([]);
    await expect(hybrid.retrieve("tide", { topK: 5, filter: { page: "x" } })).rejects.toThrow(/page/);
  });
});
