// The retrieval recipe: one declarative value naming the whole retrieval path (retriever,
// expansion, reranker, MMR, window, compression, top-k, filter, collections), validated by one
// zod schema shared by flags, `rag.retrieval` in infuse.config.json, recipe files and the library.
// Wire format: the recipe's TypeScript type IS its JSON. Keys are single words where one fits;
// the few that need two words are snake_case (`top_k`, `fb_docs`, `fb_terms`, `original_weight`),
// as every infuse JSON is, so a recipe goes to a file, an HTTP body or a report without mapping.
// This file imports zod only: core/config.ts embeds the schema in the config file's schema.
import { z } from "zod";

const metadataValue = z.union([z.string(), z.number(), z.boolean()]);
/** Equality filters on metadata, AND-ed; an array value is an OR (as `MetadataFilter`). */
export const FilterSchema = z.record(z.string().min(1), z.union([metadataValue, z.array(metadataValue).min(1)]));

export const RETRIEVER_MODES = ["bm25", "dense", "hybrid"] as const;

export const RetrieverSchema = z.strictObject({
  /** Default: hybrid with a neural embedder, bm25 with the model-free `hash` embedder. */
  mode: z.enum(RETRIEVER_MODES).optional(),
  /** Hybrid fusion: reciprocal rank (default) or weighted min-max-normalised scores. */
  fusion: z.enum(["rrf", "weighted"]).optional(),
  /** Weights of the dense and bm25 lists for weighted fusion; default 1 each. */
  weights: z.strictObject({ dense: z.number().min(0).optional(), bm25: z.number().min(0).optional() }).optional(),
});

export const ExpansionSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("rm3"),
    /** Feedback documents; default 10. */
    fb_docs: z.int().positive().optional(),
    /** Feedback terms; default 10. */
    fb_terms: z.int().positive().optional(),
    /** Weight of the original query in the mix; default 0.5. */
    original_weight: z.number().min(0).max(1).optional(),
  }),
  /** The LLM writes variants of the question; each is searched and the lists fused (RRF). */
  z.strictObject({ kind: z.literal("multiquery"), variants: z.int().positive().max(10).optional() }),
  /** The LLM writes a hypothetical answer passage whose embedding replaces the dense query vector. */
  z.strictObject({ kind: z.literal("hyde") }),
  /** Answer-as-query: a draft answer from the first hits is searched and fused with them. */
  z.strictObject({ kind: z.literal("aaq") }),
]);

export const RerankerSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("cross-encoder"),
    /** An ONNX cross-encoder folder or hub reference. */
    model: z.string().min(1),
    /** First-stage hits rescored; default 50. */
    top: z.int().positive().optional(),
  }),
  z.strictObject({
    kind: z.literal("llm"),
    /** A chat model spec; default the model that answers. */
    model: z.string().min(1).optional(),
    top: z.int().positive().optional(),
  }),
]);

export const MmrSchema = z.strictObject({
  /** Relevance weight λ in [0, 1]; 1 is plain relevance order; default 0.5. */
  lambda: z.number().min(0).max(1).optional(),
});

export const CompressionSchema = z.discriminatedUnion("kind", [
  /** Keeps sentences whose cosine with the question is at least `threshold` (default 0.2). */
  z.strictObject({ kind: z.literal("embedding"), threshold: z.number().min(-1).max(1).optional() }),
  /** The answering LLM copies the relevant sentences. */
  z.strictObject({ kind: z.literal("llm") }),
]);

export const CollectionsSchema = z.strictObject({
  names: z.array(z.string().min(1)).min(1),
  /** `fuse` searches every collection and fuses by RRF (default); `route` picks one per question. */
  combine: z.enum(["fuse", "route"]).optional(),
  /** How `route` picks: by embedding similarity to the descriptions (default) or by the LLM. */
  router: z.enum(["embedding", "llm"]).optional(),
  /** What each collection holds, for routing; default its name. */
  descriptions: z.record(z.string(), z.string().min(1)).optional(),
});

export const RecipeSchema = z.strictObject({
  /** A name for reports; default derived from the stages (`recipeName`). */
  name: z.string().min(1).optional(),
  retriever: RetrieverSchema.optional(),
  expansion: ExpansionSchema.optional(),
  reranker: RerankerSchema.optional(),
  mmr: MmrSchema.optional(),
  /** Neighbouring chunks added on each side of a hit, or "parent" for the whole document (≤ 8000 chars). */
  window: z.union([z.int().positive(), z.literal("parent")]).optional(),
  compression: CompressionSchema.optional(),
  /** Passages returned; default 5. */
  top_k: z.int().positive().optional(),
  filter: FilterSchema.optional(),
  /** Several collections; without it the one collection the caller opened is searched. */
  collections: CollectionsSchema.optional(),
});

export type Recipe = z.infer<typeof RecipeSchema>;
export type RecipeRetrieverSpec = z.infer<typeof RetrieverSchema>;
export type RecipeExpansion = z.infer<typeof ExpansionSchema>;
export type RecipeReranker = z.infer<typeof RerankerSchema>;
export type RecipeCompression = z.infer<typeof CompressionSchema>;
export type RecipeCollections = z.infer<typeof CollectionsSchema>;

/** A recipe with every default filled in: what actually runs, as reports show it. */
export type ResolvedRecipe = Recipe & {
  retriever: { mode: (typeof RETRIEVER_MODES)[number]; fusion?: "rrf" | "weighted" };
  top_k: number;
};

export const DEFAULT_TOP_K = 5;
