// Retrieval recipes: the schema, shorthand, layering and the retriever a recipe builds.
export * from "./schema.js";
export { parseRecipe, readRecipeFile, mergeRecipes, resolveRecipe, defaultMode } from "./recipe.js";
export {
  parseRecipeShorthand,
  recipeName,
  SHORTHAND_BASES,
  SHORTHAND_TECHNIQUES,
  type ShorthandOptions,
} from "./shorthand.js";
export { buildRecipeRetriever, type RecipeContext, type RecipeRetriever, type TracedRetrieval } from "./build.js";
export type { StageTrace, StageKind } from "./trace.js";
export { rerankerLoader } from "./models.js";
