// LLM techniques: the parsing rules on fixed replies, and the plumbing through a real local LLM
// (stories260K writes children's-story gibberish, so only structure is asserted: every call is
// made, outputs flow into retrieval, nothing the model invents leaks into compressed text).
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { compressHits, LlmExtractor, parseExtraction } from "../../src/rag/compress/compress.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import {
  AnswerAsQueryRetriever,
  HydeRetriever,
  MultiQueryRetriever,
  parseVariants,
} from "../../src/rag/expand/llm-query.js";
import { createChatModel } from "../../src/rag/llm/index.js";
import { MultiIndexRetriever } from "../../src/rag/multi/multi-index.js";
import { ingestRecords } from "../../src/rag/pipeline/ingest.js";
import { createRetriever } from "../../src/rag/retrieve/index.js";
import { LanceDbStoreProvider, type CollectionStore } from "../../src/rag/store/index.js";
import type { ChatModel } from "../../src/rag/types.js";
import { fixture } from "../helpers/fixtures.js";

describe("parseVariants", () => {
  it("strips numbering, bullets and quotes, drops repeats and the original", () => {
    const reply =
      '1. penguin breeding season\n2) "where penguins nest"\n- penguin breeding season\n\nWhere do penguins breed?';
    expect(parseVariants(reply, "where do penguins breed?", 3)).toEqual([
      "penguin breeding season",
      "where penguins nest",
    ]);
    expect(parseVariants("a\nb\nc\nd\ne", "q", 3)).toEqual([]); // too short to be queries
    expect(parseVariants("one query\ntwo query\nthree query", "q", 2)).toEqual(["one query", "two query"]);
  });
});

describe("parseExtraction", () => {
  const sentences = ["Penguins breed in winter.", "Bond yields fell.", "Emperor penguins huddle."];
  it("keeps only the passage's own sentences that the reply copies", () => {
    expect(parseExtraction("Penguins breed in winter.", sentences)).toEqual([0]);
    expect(parseExtraction("emperor penguins huddle\npenguins breed in winter", sentences)).toEqual([0, 2]);
    expect(parseExtraction("NONE", sentences)).toEqual([]);
    expect(parseExtraction("Penguins breed in summer.", sentences)).toEqual([]); // altered: not kept
  });
});

describe("with a real local LLM (stories260K)", () => {
  let llm: ChatModel;
  let store: CollectionStore;
  const embedder = new HashingEmbedder();
  const opts = { maxTokens: 8 };

  beforeAll(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-llmtech-"));
    const config = await loadConfig({ cwd: dir, env: { INFUSE_HOME: dir, INFUSE_CACHE: path.join(dir, "cache") } });
    llm = await createChatModel(fixture("models/stories260K-gguf/stories260K.gguf"), { config, contextSize: 512 });
    const docs = [
      { id: "d1", text: "Lily went to the park with her mom." },
      { id: "d2", text: "Tom had a big red ball." },
    ];
    await ingestRecords("llm", docs, { dataDir: dir, embedder, splitter: { kind: "none" } });
    store = await new LanceDbStoreProvider(dir).open("llm");
  });
  afterAll(async () => {
    store?.close();
    await llm?.dispose?.();
  });

  it("multi-query searches the original and every parsed variant", async () => {
    const r = new MultiQueryRetriever(createRetriever("bm25", store, undefined), llm, opts);
    const hits = await r.retrieve("Where did Lily go?", { topK: 2 });
    expect(r.lastQueries[0]).toBe("Where did Lily go?");
    expect(r.lastQueries.length).toBeGreaterThanOrEqual(1);
    expect(hits[0]!.chunk.metadata["doc_id"]).toBe("d1");
    expect(hits.every((h) => h.retriever === "bm25+multiquery")).toBe(true);
  });

  it("HyDE embeds the written passage (with the query) and searches the vectors", async () => {
    const r = new HydeRetriever(store, embedder, llm, opts);
    const hits = await r.retrieve("Who had a red ball?", { topK: 2 });
    expect(r.lastPassage.length).toBeGreaterThan(0);
    expect(hits).toHaveLength(2);
    expect(hits[0]!.retriever).toBe("hyde");
  });

  it("answer-as-query drafts from the first hits and fuses both searches", async () => {
    const r = new AnswerAsQueryRetriever(createRetriever("bm25", store, undefined), llm, opts);
    const hits = await r.retrieve("Where did Lily go?", { topK: 2 });
    expect(r.lastDraft.length).toBeGreaterThan(0);
    expect(hits.some((h) => h.chunk.metadata["doc_id"] === "d1")).toBe(true);
  });

  it("the LLM extractor keeps only sentences of the passage", async () => {
    const hit = {
      chunk: { id: "x", text: "Lily went to the park. Tom had a ball.", source: "s", start: 0, end: 38, metadata: {} },
      score: 1,
      retriever: "r",
    };
    const { hits, stats } = await compressHits("Where did Lily go?", [hit], new LlmExtractor(llm, opts));
    for (const h of hits) for (const s of h.chunk.text.split(/(?<=\.) /)) expect(hit.chunk.text).toContain(s);
    expect(stats.tokensBefore).toBe(9);
  });

  it("LLM routing searches the named collection, or all when it names none", async () => {
    const bm25 = createRetriever("bm25", store, undefined);
    const r = new MultiIndexRetriever(
      [
        { name: "stories", description: "children's stories", retriever: bm25 },
        { name: "finance", description: "company filings", retriever: bm25 },
      ],
      { mode: "route-llm", llm, maxTokens: 8 },
    );
    await r.retrieve("Where did Lily go?", { topK: 1 });
    expect(r.lastRoute.length).toBeGreaterThanOrEqual(1);
  });
});
