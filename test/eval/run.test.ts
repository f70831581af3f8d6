// The evaluations as the CLI runs them: answers given in the data (exact figures), answers
// produced from the data's own contexts (SQuAD), a real local LLM as judge (plumbing only:
// stories260K writes gibberish), and a retrieval evaluation on a BEIR folder written here.
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ResolvedConfig } from "../../src/core/config.js";
import { evaluateAnswers } from "../../src/eval/run-answers.js";
import { evaluateRetrievalConfigs } from "../../src/eval/run-retrieval.js";
import { parseRecipeShorthand } from "../../src/rag/recipe/shorthand.js";
import { fixture } from "../helpers/fixtures.js";
import { writeTinyCrossEncoder } from "./helpers/tiny-cross-encoder.js";

let dir: string;
let config: ResolvedConfig;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "infuse-evalrun-"));
  config = await loadConfig({
    cwd: dir,
    env: { INFUSE_HOME: path.join(dir, "home"), INFUSE_CACHE: path.join(dir, "cache") },
  });
});

describe("evaluateAnswers", () => {
  it("scores answers given in the data", async () => {
    const data = path.join(dir, "given.jsonl");
    await writeFile(
      data,
      [
        { question: "capital of France?", answer: "Paris", prediction: "Paris" },
        { question: "tallest mountain?", answers: ["Mount Everest", "Everest"], prediction: "it is Everest" },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const report = await evaluateAnswers({ data, config });
    expect(report.configurations.map((c) => c.name)).toEqual(["given answers"]);
    const r = report.configurations[0]!;
    expect(r.answers).toEqual({ given: 2, generative: 0, extractive: 0 });
    expect(r.exact_match).toBe(0.5);
    // row 2: best F1 against "Everest": pred {it, is, everest} → P 1/3, R 1 → 0.5
    expect(r.f1).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(r.rows[0]!.cosine).toBeCloseTo(1, 5);
    expect(r.latencyMs).toEqual({});
    expect(r.answer_in_context).toBeUndefined();
    expect(r.no_answer).toBeUndefined();
  });

  it("answers SQuAD questions from their own paragraphs and times each stage", async () => {
    const report = await evaluateAnswers({
      data: fixture("datasets/squad-v2-dev-subset/dev-v2.0.json"),
      config,
      limit: 6,
    });
    expect(report.items).toBe(6);
    expect(report.collection).toMatch(/^qa-/);
    // the 6th question is unanswerable (is_impossible): kept and scored, not dropped
    expect(report.unanswerable).toBe(1);
    const r = report.configurations[0]!;
    expect(r.name).toBe("rag · extractive");
    expect(r.answers.extractive).toBe(6);
    // an extracted passage never abstains: the unanswerable question scores 0
    expect(r.no_answer).toEqual({ questions: 1, abstained: 0 });
    expect(r.rows[5]!).toMatchObject({ references: [], exact_match: 0, f1: 0, abstained: false });
    expect(r.rows[5]!.answer_in_context).toBeUndefined();
    expect(r.has_answer!.questions).toBe(5);
    // extractive answers are whole passages: the reference is usually inside, so recall-heavy F1 is low but > 0
    expect(r.f1).toBeGreaterThan(0);
    expect(r.exact_match).toBe(0);
    // BM25 over the article's paragraphs brings the answer's paragraph for these first questions
    expect(r.rows.slice(0, 5).every((row) => row.answer_in_context === 1)).toBe(true);
    expect(r.answer_in_context).toBe(1);
    expect(Object.keys(r.latencyMs).sort()).toEqual(["generate", "retrieve", "total"]);
  });

  it("asks a real local LLM to judge, recording a grade or none for every criterion", async () => {
    const data = path.join(dir, "judge.jsonl");
    await writeFile(
      data,
      JSON.stringify({ question: "Who is Lily?", answer: "a girl", prediction: "Lily is a girl." }),
    );
    const report = await evaluateAnswers({
      data,
      config,
      judge: fixture("models/stories260K-gguf/stories260K.gguf"),
      judgeMaxTokens: 4,
    });
    const r = report.configurations[0]!;
    expect(r.judge?.model).toBeDefined();
    for (const c of ["faithfulness", "relevance", "coherence"] as const) {
      const j = r.rows[0]!.judge![c]!;
      expect(j.score === null || (j.score >= 1 && j.score <= 5)).toBe(true);
      expect(r.judge![c]!.unparsed + (j.score === null ? 0 : 1)).toBe(1);
    }
    expect(r.latencyMs["judge"]?.mean).toBeGreaterThan(0);
  });
});

describe("evaluateRetrievalConfigs", () => {
  it("ingests a BEIR folder once and caches each configuration's run", async () => {
    const beir = path.join(dir, "toy-beir");
    await mkdir(path.join(beir, "qrels"), { recursive: true });
    const docs = [
      { _id: "d1", title: "Penguins", text: "Emperor penguins breed in the Antarctic winter." },
      { _id: "d2", title: "Tea", text: "Black tea leaves are oxidised before drying." },
      { _id: "d3", title: "Comets", text: "A comet tail points away from the sun." },
    ];
    await writeFile(path.join(beir, "corpus.jsonl"), docs.map((d) => JSON.stringify(d)).join("\n"));
    await writeFile(
      path.join(beir, "queries.jsonl"),
      [
        { _id: "q1", text: "where do penguins breed" },
        { _id: "q2", text: "oxidised tea" },
        { _id: "q3", text: "unjudged query" },
      ]
        .map((q) => JSON.stringify(q))
        .join("\n"),
    );
    await writeFile(path.join(beir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
    const recipes = (...specs: string[]) => specs.map((s) => parseRecipeShorthand(s));
    const first = await evaluateRetrievalConfigs({
      beir,
      recipes: recipes("bm25", "bm25+rm3", "dense"),
      topK: 10,
      config,
    });
    expect(first.queries).toBe(2);
    expect(first.results.map((r) => r.retriever)).toEqual(["bm25", "bm25+rm3", "dense"]);
    expect(first.results[0]!["ndcg@10"]).toBe(1);
    expect(first.results.every((r) => r.cachedQueries === 0)).toBe(true);
    const second = await evaluateRetrievalConfigs({ beir, recipes: recipes("bm25"), topK: 10, config });
    expect(second.results[0]!.cachedQueries).toBe(2);
    expect(second.results[0]!["ndcg@10"]).toBe(1);
    const runs = await readdir(path.join(config.dataDir, "eval", "runs", first.collection));
    expect(runs).toHaveLength(3);
    expect(() => parseRecipeShorthand("bm25+rerank")).toThrow(/\+rerank needs a reranker/);
    // a cross-encoder named by path, as --reranker takes it
    const reranker = await writeTinyCrossEncoder(path.join(dir, "ce"));
    const reranked = await evaluateRetrievalConfigs({
      beir,
      recipes: [parseRecipeShorthand("dense+rerank", { reranker })],
      topK: 10,
      config,
    });
    expect(reranked.results[0]!.retriever).toBe("dense+rerank");
    expect(reranked.results[0]!["mrr@10"]).toBe(1);
  });

  it("evaluates the first --limit queries, and returns the finished recipes when interrupted", async () => {
    const beir = path.join(dir, "toy-beir");
    const limited = await evaluateRetrievalConfigs({
      beir,
      recipes: [parseRecipeShorthand("bm25")],
      topK: 10,
      limit: 1,
      config,
    });
    // q1 only (queries.jsonl order); its qrels alone are scored
    expect(limited).toMatchObject({ queries: 1, limit: 1 });
    expect(limited.results[0]!.queries).toBe(1);
    expect(limited.results[0]!["ndcg@10"]).toBe(1);
    // Ctrl-C while the second recipe runs: the first is reported, the second is not
    const controller = new AbortController();
    const report = await evaluateRetrievalConfigs({
      beir,
      recipes: [parseRecipeShorthand("bm25"), parseRecipeShorthand("bm25+mmr")],
      topK: 10,
      config,
      fresh: true,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.task === "bm25+mmr") controller.abort();
      },
    });
    expect(report.interrupted).toBe(true);
    expect(report.results.map((r) => r.retriever)).toEqual(["bm25"]);
  });
});
