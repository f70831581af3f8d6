// The shorthand `eval retrieval --retriever` has always taken, as a way to write a recipe: a base
// (bm25, dense, hybrid, hybrid-weighted, hyde) then techniques joined with `+` (rm3, multiquery,
// aaq, rerank, mmr, compress, compress-llm, windowN, parent). Stages run in the recipe's one
// order (expansion → rerank → mmr → window → compression) whatever order they are written in.
import { InfuseError } from "../../core/errors.js";
import type { Recipe } from "./schema.js";

export const SHORTHAND_BASES = ["bm25", "dense", "hybrid", "hybrid-weighted", "hyde"] as const;
export const SHORTHAND_TECHNIQUES = [
  "rm3",
  "multiquery",
  "aaq",
  "rerank",
  "mmr",
  "compress",
  "compress-llm",
  "window1",
  "parent",
] as const;

export interface ShorthandOptions {
  /** What `+rerank` uses: `llm`, or a cross-encoder model reference. */
  reranker?: string;
}

const BASE_RECIPES: Record<(typeof SHORTHAND_BASES)[number], Recipe> = {
  bm25: { retriever: { mode: "bm25" } },
  dense: { retriever: { mode: "dense" } },
  hybrid: { retriever: { mode: "hybrid", fusion: "rrf" } },
  "hybrid-weighted": { retriever: { mode: "hybrid", fusion: "weighted" } },
  hyde: { retriever: { mode: "dense" }, expansion: { kind: "hyde" } },
};

/** `bm25+rm3+rerank` → the recipe it names. */
export function parseRecipeShorthand(spec: string, options: ShorthandOptions = {}): Recipe {
  const [base, ...steps] = spec.trim().split("+");
  if (!base || !(base in BASE_RECIPES))
    throw new InfuseError("rag.recipe_shorthand", `unknown base retriever "${base ?? ""}" in "${spec}"`, {
      kind: "usage",
      hint: `start with one of ${SHORTHAND_BASES.join(", ")}, then add techniques with +: ${SHORTHAND_TECHNIQUES.join(", ")}`,
    });
  const recipe: Recipe = structuredClone(BASE_RECIPES[base as keyof typeof BASE_RECIPES]);
  const once = (key: keyof Recipe, step: string) => {
    if (recipe[key] !== undefined)
      throw new InfuseError("rag.recipe_shorthand", `"${spec}": +${step} sets the ${key} a second time`, {
        kind: "usage",
        hint: `a recipe has one ${key}; keep one of them`,
      });
  };
  for (const step of steps) {
    const window = /^window([1-9]\d*)$/.exec(step);
    if (step === "rm3" || step === "multiquery" || step === "aaq") {
      once("expansion", step);
      recipe.expansion = { kind: step };
    } else if (step === "rerank") {
      once("reranker", step);
      const ref = options.reranker;
      if (!ref)
        throw new InfuseError("rag.recipe_shorthand", `"${spec}": +rerank needs a reranker`, {
          kind: "usage",
          hint: "add --reranker MODEL (a cross-encoder ONNX folder or hub reference) or --reranker llm",
        });
      recipe.reranker = ref === "llm" ? { kind: "llm" } : { kind: "cross-encoder", model: ref };
    } else if (step === "mmr") {
      once("mmr", step);
      recipe.mmr = {};
    } else if (step === "compress" || step === "compress-llm") {
      once("compression", step);
      recipe.compression = { kind: step === "compress" ? "embedding" : "llm" };
    } else if (window || step === "parent") {
      once("window", step);
      recipe.window = window ? Number(window[1]) : "parent";
    } else
      throw new InfuseError("rag.recipe_shorthand", `unknown technique "${step}" in "${spec}"`, {
        kind: "usage",
        hint: `techniques: ${SHORTHAND_TECHNIQUES.join(", ")}`,
      });
  }
  return recipe;
}

/**
 * A stable short name for reports: the recipe's `name`, else its shorthand in stage order
 * (`hybrid+rm3+rerank+mmr`). Parameters other than the kind of each stage are not in the name.
 */
export function recipeName(recipe: Recipe): string {
  if (recipe.name) return recipe.name;
  const mode = recipe.retriever?.mode;
  const weighted = mode === "hybrid" && (recipe.retriever?.fusion === "weighted" || recipe.retriever?.weights);
  const hydeBase = recipe.expansion?.kind === "hyde" && (mode === "dense" || mode === undefined);
  const parts = [hydeBase ? "hyde" : weighted ? "hybrid-weighted" : (mode ?? "default")];
  if (recipe.expansion && !hydeBase) parts.push(recipe.expansion.kind);
  if (recipe.reranker) parts.push("rerank");
  if (recipe.mmr) parts.push("mmr");
  if (recipe.window !== undefined) parts.push(recipe.window === "parent" ? "parent" : `window${recipe.window}`);
  if (recipe.compression) parts.push(recipe.compression.kind === "llm" ? "compress-llm" : "compress");
  const c = recipe.collections;
  const where = c ? `@${c.combine === "route" ? "route:" : ""}${c.names.join(",")}` : "";
  return parts.join("+") + where;
}
