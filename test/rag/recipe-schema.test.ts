// The recipe as a value: one schema (strict, errors naming the source and key path), the eval
// shorthand as a way to write it, layering (config < recipe file < flags) and resolved defaults.
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configSection, loadConfig } from "../../src/core/config.js";
import { mergeRecipes, parseRecipe, readRecipeFile, resolveRecipe } from "../../src/rag/recipe/recipe.js";
import { RecipeSchema } from "../../src/rag/recipe/schema.js";
import {
  parseRecipeShorthand,
  recipeName,
  SHORTHAND_BASES,
  SHORTHAND_TECHNIQUES,
} from "../../src/rag/recipe/shorthand.js";

describe("RecipeSchema", () => {
  it("accepts a whole recipe and rejects unknown keys and bad values with their key path", () => {
    const full = {
      name: "mine",
      retriever: { mode: "hybrid", fusion: "weighted", weights: { dense: 0.3, bm25: 0.7 } },
      expansion: { kind: "rm3", fb_docs: 5, fb_terms: 20, original_weight: 0.8 },
      reranker: { kind: "cross-encoder", model: "hf:cross-encoder/ms-marco-MiniLM-L-6-v2", top: 30 },
      mmr: { lambda: 0.7 },
      window: "parent",
      compression: { kind: "embedding", threshold: 0.3 },
      top_k: 8,
      filter: { source: ["a.md", "b.md"], lang: "en" },
      collections: { names: ["a", "b"], combine: "route", router: "llm" },
    };
    expect(parseRecipe(full, "r.json")).toEqual(full);
    expect(() => parseRecipe({ reranker: { kind: "llm", topp: 3 } }, "r.json")).toThrow(
      /^r\.json: "reranker\.topp" is not a recipe key/,
    );
    expect(() => parseRecipe({ mmr: { lambda: 2 } }, "flags")).toThrow(/^flags: "mmr\.lambda"/);
    expect(() => parseRecipe({ expansion: { kind: "bm42" } }, "x")).toThrow(/"expansion\.kind"/);
    expect(() => parseRecipe({ reranker: { kind: "cross-encoder" } }, "x")).toThrow(/"reranker\.model"/);
    expect(() => parseRecipe({ topK: 3 }, "x")).toThrow(/"topK" is not a recipe key/);
  });

  it("reads recipe files, naming the file in every error", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-recipe-file-"));
    const good = path.join(dir, "good.json");
    await writeFile(good, JSON.stringify({ expansion: { kind: "aaq" }, top_k: 3 }));
    expect(await readRecipeFile(good)).toEqual({ expansion: { kind: "aaq" }, top_k: 3 });
    const bad = path.join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ compression: { kind: "embedding", threshold: "high" } }));
    await expect(readRecipeFile(bad)).rejects.toThrow(`${bad}: "compression.threshold"`);
    await writeFile(bad, "{ not json");
    await expect(readRecipeFile(bad)).rejects.toMatchObject({ code: "rag.recipe_invalid_json" });
    await expect(readRecipeFile(path.join(dir, "none.json"))).rejects.toMatchObject({ kind: "not_found" });
  });

  it("is the rag.retrieval section of infuse.config.json", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-recipe-config-"));
    const file = path.join(dir, "infuse.config.json");
    await writeFile(file, JSON.stringify({ rag: { retrieval: { mmr: { lambda: 0.3 }, top_k: 2 } } }));
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.rag.retrieval).toEqual({ mmr: { lambda: 0.3 }, top_k: 2 });
    expect(configSection(config, "rag.retrieval", RecipeSchema)).toEqual({ mmr: { lambda: 0.3 }, top_k: 2 });
    await writeFile(file, JSON.stringify({ rag: { retrieval: { window: 0 } } }));
    const bad = await loadConfig({ cwd: dir, env: {} });
    expect(() => configSection(bad, "rag.retrieval", RecipeSchema)).toThrow(
      /infuse\.config\.json: "rag\.retrieval\.window"/,
    );
  });
});

describe("recipe shorthand", () => {
  it("writes every base and technique eval retrieval has taken as a recipe, and names it back", () => {
    for (const base of SHORTHAND_BASES) expect(recipeName(parseRecipeShorthand(base))).toBe(base);
    for (const t of SHORTHAND_TECHNIQUES) {
      const spec = `bm25+${t}`;
      const recipe = parseRecipeShorthand(spec, { reranker: "llm" });
      expect(recipeName(recipe)).toBe(spec);
      expect(parseRecipe(recipe, spec)).toEqual(recipe);
    }
    expect(parseRecipeShorthand("bm25+rm3+rerank", { reranker: "./ce" })).toEqual({
      retriever: { mode: "bm25" },
      expansion: { kind: "rm3" },
      reranker: { kind: "cross-encoder", model: "./ce" },
    });
    expect(parseRecipeShorthand("hyde")).toEqual({ retriever: { mode: "dense" }, expansion: { kind: "hyde" } });
    // stages run in the recipe's order, whatever order the shorthand lists them in
    expect(recipeName(parseRecipeShorthand("dense+compress+mmr+window2"))).toBe("dense+mmr+window2+compress");
  });

  it("rejects unknown names, a second expansion and +rerank without a reranker", () => {
    expect(() => parseRecipeShorthand("sparse")).toThrow(/unknown base retriever "sparse"/);
    expect(() => parseRecipeShorthand("bm25+magic")).toThrow(/unknown technique "magic"/);
    expect(() => parseRecipeShorthand("bm25+rm3+multiquery")).toThrow(/sets the expansion a second time/);
    expect(() => parseRecipeShorthand("hyde+aaq")).toThrow(/second time/);
    expect(() => parseRecipeShorthand("bm25+rerank")).toThrow(/\+rerank needs a reranker/);
  });
});

describe("mergeRecipes and resolveRecipe", () => {
  it("layers config < recipe file < flags, merging a stage of the same kind field by field", () => {
    const config = { reranker: { kind: "cross-encoder" as const, model: "ce", top: 40 }, top_k: 3, filter: { a: 1 } };
    const file = { mmr: { lambda: 0.2 }, filter: { b: "x" } };
    const flags = { reranker: { kind: "cross-encoder" as const, model: "ce2" }, mmr: { lambda: 0.9 } };
    expect(mergeRecipes(config, file, flags)).toEqual({
      reranker: { kind: "cross-encoder", model: "ce2", top: 40 },
      top_k: 3,
      filter: { a: 1, b: "x" },
      mmr: { lambda: 0.9 },
    });
    // another kind replaces the stage
    expect(mergeRecipes(config, { reranker: { kind: "llm" } }).reranker).toEqual({ kind: "llm" });
  });

  it("fills every default: hybrid with a neural embedder, bm25 with hash, dense for HyDE", () => {
    expect(resolveRecipe({}, "hash-512")).toEqual({ retriever: { mode: "bm25" }, top_k: 5 });
    expect(resolveRecipe({}, "onnx:/models/bge")).toEqual({ retriever: { mode: "hybrid", fusion: "rrf" }, top_k: 5 });
    expect(resolveRecipe({ expansion: { kind: "hyde" } }, "hash-512").retriever.mode).toBe("dense");
    expect(
      resolveRecipe(
        {
          retriever: { mode: "hybrid", weights: { bm25: 2 } },
          expansion: { kind: "multiquery" },
          reranker: { kind: "llm" },
          mmr: {},
          compression: { kind: "embedding" },
          collections: { names: ["a", "b"], combine: "route" },
        },
        undefined,
      ),
    ).toEqual({
      retriever: { mode: "hybrid", fusion: "weighted", weights: { bm25: 2 } },
      expansion: { kind: "multiquery", variants: 3 },
      reranker: { kind: "llm", top: 50 },
      mmr: { lambda: 0.5 },
      compression: { kind: "embedding", threshold: 0.2 },
      top_k: 5,
      collections: { names: ["a", "b"], combine: "route", router: "embedding" },
    });
    expect(() => resolveRecipe({ retriever: { mode: "hybrid", fusion: "rrf", weights: { dense: 1 } } }, "x")).toThrow(
      /weights apply to weighted fusion/,
    );
  });
});
