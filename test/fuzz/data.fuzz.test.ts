// Fuzzing the readers of data and settings from outside: CSV, JSONL, BEIR folders (corpus,
// queries, qrels), the config file, retrieval recipes and the HTML loader. Seeds are small valid
// inputs; mutations are textual (syntax tokens, cuts, repeats) and, for JSON, structural. Fixed
// seed and run count; the property is in fuzz.ts (only non-internal InfuseErrors escape).
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { loadBeir } from "../../src/eval/beir.js";
import { parseQrels } from "../../src/eval/qrels.js";
import { parseCsv } from "../../src/formats/csv.js";
import { parseJsonLines, readJsonLines } from "../../src/formats/jsonl.js";
import { loadBytes } from "../../src/rag/load/index.js";
import { readRecipeFile } from "../../src/rag/recipe/index.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { fuzz, mutateJson, mutateText, showText, type Rng } from "./fuzz.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "infuse-fuzz-"));
});

/** A JSON seed mutated as text (a third of the time) or as a value. */
const jsonInput = (seed: unknown) => (rng: Rng) =>
  rng.int(3) === 0 ? mutateText(JSON.stringify(seed, null, 1), rng) : JSON.stringify(mutateJson(seed, rng));

const CSV =
  'question,context,answer\n"What is ""RAG""?","Retrieval, then generation.",RAG\nWho?,"line one\nline two",Ada\n';
const JSONL = '{"_id":"d1","title":"T","text":"One."}\n{"_id":"d2","text":"Two.","metadata":{"a":1}}\n\n';

describe("fuzz: data files", () => {
  it("CSV", async () => {
    await fuzz({
      seed: 1410,
      runs: 600,
      input: (rng) => mutateText(CSV, rng),
      show: showText,
      run: (text) => parseCsv(text),
    });
  });

  it("JSONL, in memory and streamed", async () => {
    const file = path.join(dir, "f.jsonl");
    await fuzz({
      seed: 1411,
      runs: 300,
      input: (rng) => mutateText(JSONL, rng),
      show: showText,
      run: async (text) => {
        parseJsonLines(text);
        await writeFile(file, text);
        for await (const line of readJsonLines(file)) void line;
      },
    });
  });

  it("BEIR folder: corpus, queries and qrels", async () => {
    const beir = path.join(dir, "beir");
    await mkdir(path.join(beir, "qrels"), { recursive: true });
    const queries = '{"_id":"q1","text":"what is one?"}\n{"_id":"q2","text":"two?"}\n';
    const qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n";
    await fuzz({
      seed: 1412,
      runs: 300,
      input: (rng) => {
        const files = [JSONL, queries, qrels];
        const which = rng.int(3);
        files[which] = mutateText(files[which]!, rng);
        return files;
      },
      show: (files) => JSON.stringify(files),
      run: async ([corpus, q, r]) => {
        await writeFile(path.join(beir, "corpus.jsonl"), corpus!);
        await writeFile(path.join(beir, "queries.jsonl"), q!);
        await writeFile(path.join(beir, "qrels/test.tsv"), r!);
        parseQrels(r!, "qrels/test.tsv");
        await loadBeir(beir);
      },
    });
  });

  it("the config file (infuse.config.json)", async () => {
    const seed = {
      cacheDir: "cache",
      dataDir: "data",
      hub: { endpoint: "https://huggingface.co", offline: false },
      rag: {
        collection: "docs",
        embedder: "hash",
        llm: { provider: "openai", model: "m", baseUrl: "http://127.0.0.1:1/v1" },
        topK: 5,
        retrieval: { mode: "bm25" },
      },
      store: { provider: "lancedb", path: "collections" },
      limits: {},
      tune: { rank: 8 },
      ingest: { chunk_size: 500 },
    };
    const file = path.join(dir, "infuse.config.json");
    await fuzz({
      seed: 1413,
      runs: 400,
      input: jsonInput(seed),
      show: showText,
      run: async (text) => {
        await writeFile(file, text);
        await loadConfig({ file, env: {} });
      },
    });
  });

  it("retrieval recipes", async () => {
    const seed = {
      name: "r",
      retriever: { mode: "hybrid", fusion: "weighted", weights: { dense: 1, bm25: 0.5 } },
      expansion: { kind: "rm3", fb_docs: 5, fb_terms: 5, original_weight: 0.5 },
      reranker: { kind: "cross-encoder", model: "m", top: 20 },
      mmr: { lambda: 0.5 },
      window: 1,
      compression: { kind: "embedding", threshold: 0.2 },
      top_k: 5,
      filter: { lang: ["en", "vi"], year: 2024 },
      collections: { names: ["a", "b"], combine: "route", router: "embedding", descriptions: { a: "A" } },
    };
    const file = path.join(dir, "recipe.json");
    await fuzz({
      seed: 1414,
      runs: 400,
      input: jsonInput(seed),
      show: showText,
      run: async (text) => {
        await writeFile(file, text);
        await readRecipeFile(file);
      },
    });
  });

  it("the HTML loader", async () => {
    const seed = await readFile(path.join(REPO_ROOT, "examples/sample-docs/release-notes.html"), "utf8");
    await fuzz({
      seed: 1415,
      runs: 150,
      input: (rng) => mutateText(seed, rng),
      show: showText,
      run: (html) => loadBytes(new TextEncoder().encode(html), "text/html", "fuzz.html"),
    });
  }, 30_000);
});
