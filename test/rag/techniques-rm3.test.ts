// RM3 on hand-made feedback whose relevance model is worked out by hand (Anserini's estimate:
// per-document tf pruned to fbTerms, L1-normalised, weighted by score, summed, pruned, mixed).
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { ingestRecords } from "../../src/rag/pipeline/ingest.js";
import { createRetriever } from "../../src/rag/retrieve/index.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { englishAnalyzer } from "../../src/rag/expand/analyzer.js";
import { rm3Expand, Rm3Retriever, repeatedQuery } from "../../src/rag/expand/rm3.js";
import { buildTermStatistics } from "../../src/rag/expand/term-stats.js";
import type { Hit } from "../../src/rag/types.js";

function hit(id: string, text: string, score: number): Hit {
  return { chunk: { id, text, source: id, start: 0, end: text.length, metadata: {} }, score, retriever: "bm25" };
}

const feedback = [hit("a", "tumor cells tumor growth", 2), hit("b", "tumor signaling", 1)];

describe("englishAnalyzer", () => {
  it("lowercases, drops stop words and stems with Porter2, keeping the surface word", () => {
    const tokens = englishAnalyzer().analyze("The Diseases of running cells, HER2!");
    expect(tokens.map((t) => t.term)).toEqual(["diseas", "run", "cell", "her2"]);
    expect(tokens.map((t) => t.surface)).toEqual(["diseases", "running", "cells", "her2"]);
    expect(englishAnalyzer({ stem: false }).analyze("Cells")[0]!.term).toBe("cells");
  });
});

describe("rm3Expand", () => {
  it("mixes the query with the relevance model of the feedback documents", () => {
    const terms = rm3Expand("cell growth", feedback, { fbDocs: 2, fbTerms: 2, originalQueryWeight: 0.5 });
    // doc a → {tumor: 2, cell: 1} (growth pruned, tie broken by term), norm 3, score 2
    // doc b → {tumor: 1, signal: 1}, norm 2, score 1
    // model: tumor 4/3 + 1/2 = 11/6, cell 2/3, signal 1/2 → keep tumor, cell → 11/15, 4/15
    // mixed with the query {cell: 1/2, growth: 1/2} at 0.5
    expect(terms.map((t) => t.term)).toEqual(["cell", "tumor", "growth"]);
    expect(terms[0]!.weight).toBeCloseTo(0.25 + 0.5 * (4 / 15), 12);
    expect(terms[1]!.weight).toBeCloseTo(0.5 * (11 / 15), 12);
    expect(terms[2]!.weight).toBeCloseTo(0.25, 12);
    expect(terms.reduce((s, t) => s + t.weight, 0)).toBeCloseTo(1, 12);
    expect(terms.map((t) => t.text)).toEqual(["cell", "tumor", "growth"]);
  });

  it("drops feedback terms found in more than 10% of the collection", () => {
    const corpus = ["tumor one", "tumor two", ...Array.from({ length: 8 }, (_, i) => `filler ${i}`)];
    const stats = buildTermStatistics(corpus, englishAnalyzer());
    expect(stats.numDocs).toBe(10);
    expect(stats.docFreq("tumor")).toBe(2);
    const terms = rm3Expand("cell growth", feedback, { fbDocs: 2, fbTerms: 2, stats });
    // doc a → {cell: 1, growth: 1}, doc b → {signal: 1}; model keeps cell, growth at 1/2 each
    expect(terms).toEqual([
      { term: "cell", text: "cell", weight: 0.5 },
      { term: "growth", text: "growth", weight: 0.5 },
    ]);
  });

  it("sends the most frequent surface form of a stem", () => {
    const terms = rm3Expand("x", [hit("a", "studies studies study", 1)], { fbDocs: 1, fbTerms: 1 });
    expect(terms.find((t) => t.term === "studi")!.text).toBe("studies");
  });
});

describe("repeatedQuery", () => {
  it("spreads weights over the word budget, every term at least once", () => {
    const q = repeatedQuery(
      [
        { term: "a", text: "alpha", weight: 0.5 },
        { term: "b", text: "beta", weight: 0.3 },
        { term: "c", text: "gamma", weight: 0.001 },
      ],
      10,
    );
    expect(q.split(" ").filter((w) => w === "alpha")).toHaveLength(6);
    expect(q.split(" ").filter((w) => w === "beta")).toHaveLength(4);
    expect(q.split(" ").filter((w) => w === "gamma")).toHaveLength(1);
  });
});

describe("Rm3Retriever.retrieve on a real BM25 index", () => {
  it("finds a relevant document that shares no word with the query through feedback terms", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-rm3-"));
    const docs = [
      { id: "d1", text: "aspirin reduces fever and headache pain" },
      { id: "d2", text: "aspirin is acetylsalicylic acid, dosage for fever" },
      { id: "d3", text: "acetylsalicylic acid inhibits platelet aggregation" },
      { id: "d4", text: "the weather in spring is mild and sunny" },
      { id: "d5", text: "trains leave the station every hour" },
    ];
    await ingestRecords("rm3", docs, { dataDir, embedder: new HashingEmbedder(), splitter: { kind: "none" } });
    const store = await new LanceDbStoreProvider(dataDir).open("rm3");
    try {
      const bm25 = createRetriever("bm25", store, undefined);
      const ids = (hits: { chunk: { metadata: Record<string, unknown> } }[]) =>
        hits.map((h) => h.chunk.metadata["doc_id"]);
      expect(ids(await bm25.retrieve("aspirin fever", { topK: 5 }))).not.toContain("d3");
      const rm3 = new Rm3Retriever(bm25, { fbDocs: 2, fbTerms: 10 });
      const hits = await rm3.retrieve("aspirin fever", { topK: 5 });
      expect(ids(hits).slice(0, 2).sort()).toEqual(["d1", "d2"]);
      expect(ids(hits)).toContain("d3");
      expect(hits[0]!.retriever).toBe("bm25+rm3");
      // the assumption repeatedQuery rests on: the index sums repeated query words
      const score = async (q: string) =>
        (await bm25.retrieve(q, { topK: 5 })).find((h) => h.chunk.metadata["doc_id"] === "d2")!.score;
      const [a, f, aaf] = [await score("aspirin"), await score("fever"), await score("aspirin aspirin fever")];
      expect(aaf).toBeCloseTo(2 * a + f, 4);
    } finally {
      store.close();
    }
  });
});
