// Recipes run on real collections (LanceDB, hashing embedder): the stage trace of
// hybrid + RM3 + MMR + window + compression, per-call traces under concurrency, several
// collections fused or routed, a real (tiny ONNX) cross-encoder reranker, and missing models.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { buildRecipeRetriever } from "../../src/rag/recipe/build.js";
import { rerankerLoader } from "../../src/rag/recipe/models.js";
import type { StageTrace } from "../../src/rag/recipe/trace.js";
import { LanceDbStoreProvider, type CollectionStore } from "../../src/rag/store/index.js";
import { writeTinyCrossEncoder } from "../eval/helpers/tiny-cross-encoder.js";
import { embedder, makeRecipeCollections } from "./helpers/recipe-docs.js";

let dataDir: string;
let harbour: CollectionStore;
let garden: CollectionStore;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-recipe-"));
  await makeRecipeCollections(dataDir);
  harbour = await new LanceDbStoreProvider(dataDir).open("harbour");
  garden = await new LanceDbStoreProvider(dataDir).open("garden");
});
afterAll(() => {
  harbour?.close();
  garden?.close();
});

const stage = (stages: StageTrace[], kind: StageTrace["stage"]) => stages.find((s) => s.stage === kind)!;

describe("buildRecipeRetriever", () => {
  it("runs hybrid + rm3 + mmr + window + compression and traces each stage's effect", async () => {
    const retriever = await buildRecipeRetriever(
      {
        retriever: { mode: "hybrid" },
        expansion: { kind: "rm3" },
        mmr: { lambda: 0.5 },
        window: 1,
        compression: { kind: "embedding" },
        top_k: 2,
      },
      { stores: [harbour], embedder },
    );
    expect(retriever.name).toBe("hybrid+rm3+mmr+window1+compress");
    expect(retriever.recipe).toMatchObject({
      retriever: { mode: "hybrid", fusion: "rrf" },
      expansion: { kind: "rm3", fb_docs: 10, fb_terms: 10, original_weight: 0.5 },
      mmr: { lambda: 0.5 },
      compression: { kind: "embedding", threshold: 0.2 },
    });
    const { hits, stages } = await retriever.retrieveWithTrace("When does the fuel dock open?");
    expect(stages.map((s) => s.stage)).toEqual(["retrieve", "expand", "mmr", "window", "compress"]);
    // each stage receives what the one below passed on
    for (let i = 1; i < stages.length; i++) expect(stages[i]!.input).toBe(stages[i - 1]!.output);
    expect(stages.every((s) => s.ms >= 0)).toBe(true);
    expect(stages[0]!.name).toBe("hybrid(rrf)");

    const terms = stage(stages, "expand").details!["terms"] as { term: string; weight: number }[];
    expect(terms.map((t) => t.term)).toContain("fuel");
    expect(terms.reduce((s, t) => s + t.weight, 0)).toBeLessThanOrEqual(1.0001);

    const mmr = stage(stages, "mmr");
    expect(mmr.output).toBe(2);
    expect(mmr.input).toBeGreaterThan(2); // MMR picks 2 of a wider candidate list

    const window = stage(stages, "window");
    const expanded = window.details!["expanded"] as { chunk_id: string; chars_before: number; chars_after: number }[];
    expect(expanded.length).toBeGreaterThan(0);
    for (const e of expanded) expect(e.chars_after).toBeGreaterThan(e.chars_before);

    const compress = stage(stages, "compress");
    const d = compress.details!;
    expect(d["tokens_before"]).toBeGreaterThan(d["tokens_after"] as number);
    expect(d["tokens_saved"]).toBe((d["tokens_before"] as number) - (d["tokens_after"] as number));
    const removed = (d["removed"] as { sentences: string[] }[]).flatMap((r) => r.sentences);
    // the neighbours the window added that do not bear on the question
    expect(removed).toContain("The harbour office is on the north quay.");
    expect(hits[0]!.chunk.text).toContain("The fuel dock opens at 06:00 and closes at 20:00.");
    expect(hits[0]!.chunk.text).not.toContain("north quay");
    expect(hits[0]!.chunk.metadata["compressed"]).toBe(true);
  });

  it("keeps each call's trace to itself when calls run at once", async () => {
    const retriever = await buildRecipeRetriever({ expansion: { kind: "rm3" }, top_k: 2 }, { stores: [harbour] });
    expect(retriever.recipe.retriever.mode).toBe("bm25"); // no neural embedder: BM25 alone
    const [fuel, shower] = await Promise.all([
      retriever.retrieveWithTrace("fuel dock diesel"),
      retriever.retrieveWithTrace("shower code"),
    ]);
    const termsOf = (t: { stages: StageTrace[] }) =>
      (stage(t.stages, "expand").details!["terms"] as { term: string }[]).map((x) => x.term);
    expect(termsOf(fuel)).toContain("diesel");
    expect(termsOf(fuel)).not.toContain("shower");
    expect(termsOf(shower)).toContain("shower");
    expect(termsOf(shower)).not.toContain("diesel");
    expect(fuel.hits[0]!.chunk.text).toContain("fuel dock");
    expect(shower.hits[0]!.chunk.text).toContain("shower code");
  });

  it("fuses several collections, or routes a question to the one whose description matches", async () => {
    const fused = await buildRecipeRetriever(
      { collections: { names: ["harbour", "garden"] }, window: 1, top_k: 4 },
      { stores: [harbour, garden], embedder },
    );
    const both = await fused.retrieveWithTrace("when are roses pruned and when does the fuel dock open");
    expect(new Set(both.hits.map((h) => h.chunk.metadata["collection"]))).toEqual(new Set(["harbour", "garden"]));
    expect(stage(both.stages, "retrieve").details!["collections"]).toEqual(["harbour", "garden"]);
    // each hit's window came from its own collection
    expect(both.hits.find((h) => h.chunk.metadata["collection"] === "garden")!.chunk.text).toMatch(/Roses are pruned/);

    const routed = await buildRecipeRetriever(
      {
        collections: {
          names: ["harbour", "garden"],
          combine: "route",
          descriptions: { harbour: "boats, moorings and the fuel dock", garden: "plants: roses, tomatoes, lettuce" },
        },
      },
      { stores: [harbour, garden], embedder },
    );
    const one = await routed.retrieveWithTrace("how do I prune roses");
    expect(stage(one.stages, "retrieve").details!["collections"]).toEqual(["garden"]);
    expect(one.hits.every((h) => h.chunk.metadata["collection"] === "garden")).toBe(true);
  });

  it("reranks with a cross-encoder loaded by the recipe's model reference", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-recipe-ce-"));
    const model = await writeTinyCrossEncoder(path.join(dir, "ce"));
    const config = await loadConfig({ cwd: dir, env: { INFUSE_HOME: dir, INFUSE_CACHE: path.join(dir, "cache") } });
    const retriever = await buildRecipeRetriever(
      { reranker: { kind: "cross-encoder", model, top: 4 }, top_k: 3 },
      { stores: [harbour], embedder, loadReranker: rerankerLoader(config) },
    );
    const { hits, stages } = await retriever.retrieveWithTrace(
      "which lane do the motor boats and sailing boats of the harbour keep to",
    );
    await retriever.dispose();
    const rerank = stage(stages, "rerank");
    expect(rerank).toMatchObject({ name: `cross-encoder:${model}`, input: 4, output: 3, details: { top: 4 } });
    const moved = rerank.details!["moved"] as { chunk_id: string; before: number; after: number }[];
    for (const m of moved) {
      expect(m.before).not.toBe(m.after);
      expect(hits[m.after - 1]!.chunk.id).toBe(m.chunk_id);
    }
    expect(hits[0]!.chunk.text).toContain("Motor boats keep to the marked lane");
  });

  it("names the model a recipe is missing before it runs", async () => {
    await expect(buildRecipeRetriever({ expansion: { kind: "multiquery" } }, { stores: [harbour] })).rejects.toThrow(
      /needs a chat model .* for "expansion"/,
    );
    await expect(
      buildRecipeRetriever({ retriever: { mode: "dense" }, mmr: {} }, { stores: [harbour] }),
    ).rejects.toMatchObject({ code: "rag.recipe_needs_model" });
    await expect(
      buildRecipeRetriever(
        { retriever: { mode: "bm25" }, expansion: { kind: "hyde" } },
        { stores: [harbour], embedder },
      ),
    ).rejects.toThrow(/hyde searches vectors/);
    await expect(buildRecipeRetriever({}, { stores: [harbour, garden] })).rejects.toMatchObject({
      code: "rag.recipe_stores",
    });
  });
});
