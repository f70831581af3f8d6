// The retrieval harness end to end on a hand-made corpus in a real collection (LanceDB BM25 and
// the hashing embedder): figures a person can check, a run file that resumes, MaxP over chunks.
import { appendFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BeirDataset } from "../../src/eval/beir.js";
import { ingestBeirCorpus } from "../../src/eval/beir-collection.js";
import { evaluateRetriever, hitsToDocs, runRetrieval } from "../../src/eval/retrieval.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { buildRecipeRetriever } from "../../src/rag/recipe/build.js";
import { parseRecipeShorthand } from "../../src/rag/recipe/shorthand.js";
import { LanceDbStoreProvider, type CollectionStore } from "../../src/rag/store/index.js";
import type { Hit } from "../../src/rag/types.js";

const corpus = [
  { id: "d1", title: "Penguins", text: "Emperor penguins breed in the Antarctic winter." },
  { id: "d2", title: "Volcanoes", text: "Basaltic lava flows from shield volcanoes in Hawaii." },
  { id: "d3", title: "Tea", text: "Green tea is steamed, black tea is oxidised before drying." },
  { id: "d4", title: "Comets", text: "A comet's tail points away from the sun because of solar wind." },
  { id: "d5", title: "Bread", text: "Sourdough bread rises with wild yeast and lactic bacteria." },
];
const queries = [
  { id: "q1", text: "where do emperor penguins breed" },
  { id: "q2", text: "how is black tea made" },
  { id: "q3", text: "why does a comet tail point away from the sun" },
];
const qrels = new Map([
  ["q1", new Map([["d1", 1]])],
  ["q2", new Map([["d3", 2]])],
  ["q3", new Map([["d4", 1]])],
]);

let dataDir: string;
let store: CollectionStore;
const embedder = new HashingEmbedder();

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-evalret-"));
  const dataset: BeirDataset = { dir: path.join(dataDir, "toy"), split: "test", corpus, queries, qrels };
  // committed two records at a time, as a large corpus is, so an interrupted ingest keeps its batches
  const { collection, report } = await ingestBeirCorpus(dataset, { dataDir, embedder, batchRecords: 2 });
  expect(report.chunksAdded).toBe(5);
  const again = await ingestBeirCorpus(dataset, { dataDir, embedder, batchRecords: 2 });
  expect(again.report).toMatchObject({ chunksAdded: 0, unchanged: 5 });
  store = await new LanceDbStoreProvider(dataDir).open(collection);
});
afterAll(() => store?.close());

/** The retriever a shorthand recipe builds over the toy collection. */
const buildRetriever = async (spec: string) =>
  buildRecipeRetriever(parseRecipeShorthand(spec), { stores: [store], embedder });

describe("evaluateRetriever", () => {
  it("scores BM25 on questions whose answer document shares their words", async () => {
    const r = await evaluateRetriever(await buildRetriever("bm25"), queries, qrels, { topK: 5 });
    expect(r.retriever).toBe("bm25");
    expect(r.queries).toBe(3);
    expect(r["mrr@10"]).toBe(1);
    expect(r["ndcg@10"]).toBe(1);
    expect(r["recall@10"]).toBe(1);
    expect(r.map).toBe(1);
    expect(r.latencyMs?.mean).toBeGreaterThan(0);
  });

  it("reports the tokens a compressing configuration saves", async () => {
    const r = await evaluateRetriever(await buildRetriever("bm25+compress"), queries, qrels, {
      topK: 3,
    });
    expect(r.retriever).toBe("bm25+compress");
    expect(r.compression!.tokensAfter).toBeLessThan(r.compression!.tokensBefore);
    expect(r.compression!.saving).toBeCloseTo(1 - r.compression!.tokensAfter / r.compression!.tokensBefore, 12);
    expect(r["mrr@10"]).toBe(1); // the answer documents keep a sentence
  });

  it("names configurations and rejects unknown ones with the list", async () => {
    expect((await buildRetriever("bm25+rm3")).name).toBe("bm25+rm3");
    await expect(buildRetriever("sparse")).rejects.toThrow(/unknown base retriever "sparse"/);
    await expect(buildRetriever("bm25+magic")).rejects.toThrow(/unknown technique "magic"/);
  });
});

describe("runRetrieval", () => {
  it("writes a run file and resumes from it, ignoring a torn last line", async () => {
    const cacheFile = path.join(dataDir, "runs", "bm25.jsonl");
    const bm25 = await buildRetriever("bm25");
    const first = await runRetrieval(bm25, queries.slice(0, 2), { topK: 3, cacheFile });
    expect(first.cached).toBe(0);
    expect(first.latencies).toHaveLength(2);
    await appendFile(cacheFile, '{"q":"q3","docs":[{"id":"d4"'); // interrupted write
    const second = await runRetrieval(bm25, queries, { topK: 3, cacheFile });
    expect(second.cached).toBe(2);
    expect(second.latencies).toHaveLength(1);
    expect(second.run.get("q3")![0]!.id).toBe("d4");
    expect(second.run.get("q1")).toEqual(first.run.get("q1"));
    // A cached run is read back, not recomputed: edit it and see the edit.
    const lines = (await readFile(cacheFile, "utf8")).split("\n").filter((l) => l.startsWith('{"q":"q1"'));
    expect(lines).toHaveLength(1);
    await writeFile(cacheFile, '{"q":"q1","docs":[{"id":"d5","score":1}]}\n');
    const third = await runRetrieval(bm25, [queries[0]!], { topK: 3, cacheFile });
    expect(third.run.get("q1")).toEqual([{ id: "d5", score: 1 }]);
  });
});

describe("hitsToDocs", () => {
  const hit = (id: string, doc: string, score: number): Hit => ({
    chunk: { id, text: "", source: "beir", start: 0, end: 0, metadata: { doc_id: doc } },
    score,
    retriever: "x",
  });

  it("keeps each document's best chunk and cuts at topK", () => {
    const docs = hitsToDocs(
      [hit("a#0", "a", 3), hit("b#0", "b", 2), hit("a#1", "a", 1.5), hit("c#0", "c", 1)],
      (h) => String(h.chunk.metadata["doc_id"]),
      2,
    );
    expect(docs).toEqual([
      { id: "a", score: 3 },
      { id: "b", score: 2 },
    ]);
  });

  it("turns ranks into scores when the list is not sorted by score", () => {
    const docs = hitsToDocs([hit("a", "a", 0.1), hit("b", "b", 0.9)], (h) => h.chunk.id, 10);
    expect(docs.map((d) => d.id)).toEqual(["a", "b"]);
    expect(docs[0]!.score).toBeGreaterThan(docs[1]!.score);
  });
});
