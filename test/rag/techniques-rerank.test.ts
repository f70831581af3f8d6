// Rerankers on data whose right order is known: a tiny cross-encoder (ONNX, word-piece overlap
// logit) loaded through transformers.js, the LLM reranker's parsing rules on fixed replies, and
// its plumbing through a real local LLM (stories260K writes gibberish, so only plumbing is checked).
import { mkdtemp, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { createChatModel } from "../../src/rag/llm/index.js";
import { ingestRecords } from "../../src/rag/pipeline/ingest.js";
import { CrossEncoderReranker } from "../../src/rag/rerank/cross-encoder.js";
import { LlmReranker, parseRelevanceScore, UNPARSED_SCORE } from "../../src/rag/rerank/llm.js";
import { RerankingRetriever } from "../../src/rag/rerank/reranker.js";
import { createRetriever } from "../../src/rag/retrieve/index.js";
import { LanceDbStoreProvider, type CollectionStore } from "../../src/rag/store/index.js";
import { writeTinyCrossEncoder } from "../eval/helpers/tiny-cross-encoder.js";
import { fixture } from "../helpers/fixtures.js";

let dir: string;
let encoder: CrossEncoderReranker;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "infuse-rerank-"));
  const folder = await writeTinyCrossEncoder(path.join(dir, "ce"));
  const files = (await readdir(folder, { recursive: true })).map((f) => f.split(path.sep).join("/"));
  encoder = await CrossEncoderReranker.load("tiny-ce", folder, files);
});
afterAll(async () => encoder?.dispose());

describe("CrossEncoderReranker", () => {
  it("scores each pair by the model's logit (here: shared word pieces)", async () => {
    const scores = await encoder.score("volcano lava eruption", [
      "bread rises with yeast",
      "lava flows after a volcano eruption",
      "the volcano is quiet",
    ]);
    // shared pieces with the query (plus the [SEP] both parts end with): 0, 3, 1
    expect(scores).toEqual([1, 4, 2]);
  });

  it("reorders a retriever's top-N and keeps the first-stage rank", async () => {
    const dataDir = path.join(dir, "data");
    const docs = [
      { id: "a", text: "tea tea tea tea grows on hills" },
      { id: "b", text: "black tea is oxidised before drying" },
      { id: "c", text: "coffee beans are roasted" },
    ];
    await ingestRecords("rr", docs, { dataDir, embedder: new HashingEmbedder(), splitter: { kind: "none" } });
    const store: CollectionStore = await new LanceDbStoreProvider(dataDir).open("rr");
    try {
      const bm25 = createRetriever("bm25", store, undefined);
      const query = "how is black tea oxidised";
      const before = await bm25.retrieve(query, { topK: 3 });
      const after = await new RerankingRetriever(bm25, encoder, { topN: 3 }).retrieve(query, { topK: 2 });
      expect(after).toHaveLength(2);
      expect(after[0]!.chunk.metadata["doc_id"]).toBe("b");
      expect(after[0]!.retriever).toBe("bm25+rerank");
      const firstRank = before.findIndex((h) => h.chunk.metadata["doc_id"] === "b") + 1;
      expect(after[0]!.sources?.["bm25"]?.rank).toBe(firstRank);
    } finally {
      store.close();
    }
  });
});

describe("parseRelevanceScore", () => {
  it("reads the first rating from 0 to 10", () => {
    expect(parseRelevanceScore("8")).toBe(8);
    expect(parseRelevanceScore("Score: 7.5 out of 10")).toBe(7.5);
    expect(parseRelevanceScore("9/10")).toBe(9);
    expect(parseRelevanceScore("2023 was 4")).toBe(4);
    expect(parseRelevanceScore("very relevant")).toBeUndefined();
  });
});

describe("LlmReranker with a real local LLM", () => {
  it("asks once per passage and scores every passage (gibberish → the unparsed score)", async () => {
    const config = await loadConfig({
      cwd: dir,
      env: { INFUSE_HOME: path.join(dir, "home"), INFUSE_CACHE: path.join(dir, "cache") },
    });
    const llm = await createChatModel(fixture("models/stories260K-gguf/stories260K.gguf"), {
      config,
      contextSize: 512,
    });
    try {
      const reranker = new LlmReranker(llm);
      const scores = await reranker.score("Who is Lily?", ["Lily is a girl.", "The dog ran."]);
      expect(scores).toHaveLength(2);
      for (const s of scores) expect(s === UNPARSED_SCORE || (s >= 0 && s <= 10)).toBe(true);
      expect(reranker.unparsed).toBe(scores.filter((s) => s === UNPARSED_SCORE).length);
    } finally {
      await llm.dispose?.();
    }
  });
});
