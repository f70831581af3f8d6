// A recipe turned into a retriever. Models are loaded once (`buildRecipeRetriever`); the chain of
// technique retrievers is made afresh for every call, with a probe between each two stages, so
// per-call state (RM3 terms, query variants, compression stats, the route) and the trace belong
// to that call alone and concurrent calls never share it.
import { InfuseError } from "../../core/errors.js";
import { CompressingRetriever, EmbeddingCompressor, LlmExtractor, type Compressor } from "../compress/compress.js";
import { AnswerAsQueryRetriever, HydeRetriever, MultiQueryRetriever } from "../expand/llm-query.js";
import { Rm3Retriever } from "../expand/rm3.js";
import type { TermStatistics } from "../expand/term-stats.js";
import { MmrRetriever } from "../multi/mmr.js";
import { MultiIndexRetriever, type Routing } from "../multi/multi-index.js";
import { ExpandingRetriever } from "../multi/window.js";
import { LlmReranker } from "../rerank/llm.js";
import { RerankingRetriever, type Reranker } from "../rerank/reranker.js";
import { Bm25Retriever, createRetriever, HybridRetriever, type HybridOptions } from "../retrieve/index.js";
import type { CollectionStore } from "../store/index.js";
import type { ChatModel, Embedder, Hit, RetrieveOptions, Retriever, TokenCounter } from "../types.js";
import { resolveRecipe } from "./recipe.js";
import type { Recipe, RecipeReranker, ResolvedRecipe } from "./schema.js";
import { recipeName } from "./shorthand.js";
import { droppedFrom, expansions, moves, Probe, removals, roundMs, type StageKind, type StageTrace } from "./trace.js";

export interface RecipeContext {
  /** The open collections: the one searched, or those `collections.names` lists, in that order. */
  stores: CollectionStore[];
  /** The collections' query embedder: dense, hybrid, HyDE, MMR, embedding compression and routing need it. */
  embedder?: Embedder;
  /** The answering chat model: LLM expansion, compression, routing and an `llm` reranker without a model use it. */
  llm?: ChatModel;
  /** Loads a cross-encoder, or an `llm` reranker that names its own model. */
  loadReranker?: (spec: RecipeReranker) => Promise<Reranker>;
  /** Collection term statistics for RM3's document-frequency filter (one collection only). */
  termStats?: (store: CollectionStore) => TermStatistics | undefined;
  /** Counts tokens for compression figures; default words. */
  tokens?: TokenCounter;
}

export interface TracedRetrieval {
  hits: Hit[];
  stages: StageTrace[];
}

export interface RecipeRetriever extends Retriever {
  /** The recipe with every default filled in. */
  readonly recipe: ResolvedRecipe;
  /** Retrieves with the recipe's top_k and filter (options override) and reports each stage. */
  retrieveWithTrace(query: string, options?: Partial<RetrieveOptions>): Promise<TracedRetrieval>;
  /** Releases what the build loaded (a reranker); the stores and models of the context stay open. */
  dispose(): Promise<void>;
}

interface Layer {
  stage: StageKind;
  retriever: Retriever;
  /** The probe on the stage's input (absent for the first stage). */
  below?: Probe;
  describe(input: Hit[], output: Hit[]): { name: string; details?: Record<string, unknown> };
}

export async function buildRecipeRetriever(recipe: Recipe, ctx: RecipeContext): Promise<RecipeRetriever> {
  const r = resolveRecipe(recipe, ctx.embedder?.id);
  checkStores(r, ctx.stores);
  const needs = (what: string, key: string) => needModel(r, what, key);
  const embedder = (key: string) => ctx.embedder ?? needs("an embedder", key);
  const llm = (key: string) => ctx.llm ?? needs("a chat model (--llm SPEC or rag.llm)", key);
  // check every model up front, so a recipe fails before it runs, not on its first question
  if (r.retriever.mode !== "bm25") embedder("retriever.mode");
  if (r.expansion && r.expansion.kind !== "rm3") llm("expansion");
  if (r.mmr) embedder("mmr");
  if (r.collections?.combine === "route") (r.collections.router === "llm" ? llm : embedder)("collections.router");
  let reranker: Reranker | undefined;
  let loaded = false;
  if (r.reranker) {
    if (r.reranker.kind === "llm" && !r.reranker.model) reranker = new LlmReranker(llm("reranker"));
    else if (ctx.loadReranker) {
      reranker = await ctx.loadReranker(r.reranker);
      loaded = true;
    } else needs("a reranker loader", "reranker");
  }
  const compressor: Compressor | undefined = !r.compression
    ? undefined
    : r.compression.kind === "embedding"
      ? new EmbeddingCompressor(embedder("compression"), { threshold: r.compression.threshold ?? 0.2 })
      : new LlmExtractor(llm("compression"));

  // collection statistics are built once, on the first RM3 call
  let stats: { value: TermStatistics | undefined } | undefined;
  const rm3Stats = () =>
    (stats ??= { value: ctx.stores.length === 1 ? ctx.termStats?.(ctx.stores[0]!) : undefined }).value;
  const storeByName = new Map(ctx.stores.map((s) => [s.manifest.name, s]));
  const storeOf = (hit: Hit) => storeByName.get(String(hit.chunk.metadata["collection"])) ?? ctx.stores[0]!;
  const hybrid: HybridOptions = {
    fusion: r.retriever.fusion ?? "rrf",
    ...(r.retriever.weights
      ? {
          weights: {
            dense: r.retriever.weights.dense ?? 1,
            hyde: r.retriever.weights.dense ?? 1,
            bm25: r.retriever.weights.bm25 ?? 1,
          },
        }
      : {}),
  };

  /** The chain for one call: layers bottom-up, with fresh per-call state. */
  const chain = (): Layer[] => {
    const hydes: HydeRetriever[] = [];
    const baseFor = (store: CollectionStore): Retriever => {
      if (r.expansion?.kind !== "hyde") return createRetriever(r.retriever.mode, store, ctx.embedder, hybrid);
      const hyde = new HydeRetriever(store, ctx.embedder!, ctx.llm!);
      hydes.push(hyde);
      return r.retriever.mode === "hybrid" ? new HybridRetriever([hyde, new Bm25Retriever(store)], hybrid) : hyde;
    };
    const c = r.collections;
    const multi = c
      ? new MultiIndexRetriever(
          ctx.stores.map((s) => ({
            name: s.manifest.name,
            description: c.descriptions?.[s.manifest.name] ?? s.manifest.name,
            retriever: baseFor(s),
          })),
          routing(r, ctx),
        )
      : undefined;
    const base = multi ?? baseFor(ctx.stores[0]!);
    const layers: Layer[] = [
      {
        stage: "retrieve",
        retriever: base,
        describe: () => ({
          name: base.name,
          details: {
            ...(multi ? { collections: multi.lastRoute } : {}),
            ...(hydes.length > 0 ? { hypothetical: hydes.map((h) => h.lastPassage) } : {}),
          },
        }),
      },
    ];
    const add = (stage: StageKind, make: (inner: Retriever) => Retriever, describe: Layer["describe"]) => {
      const below = new Probe(layers[layers.length - 1]!.retriever);
      layers.push({ stage, retriever: make(below), below, describe });
    };
    const e = r.expansion;
    if (e?.kind === "rm3") {
      let rm3: Rm3Retriever;
      const stats = rm3Stats();
      add(
        "expand",
        (inner) =>
          (rm3 = new Rm3Retriever(inner, {
            fbDocs: e.fb_docs ?? 10,
            fbTerms: e.fb_terms ?? 10,
            originalQueryWeight: e.original_weight ?? 0.5,
            ...(stats ? { stats } : {}),
          })),
        () => ({
          name: "rm3",
          details: { terms: rm3.lastTerms.slice(0, 20).map((t) => ({ term: t.text, weight: round4(t.weight) })) },
        }),
      );
    } else if (e?.kind === "multiquery") {
      let mq: MultiQueryRetriever;
      add(
        "expand",
        (inner) => (mq = new MultiQueryRetriever(inner, ctx.llm!, { variants: e.variants ?? 3 })),
        () => ({ name: "multiquery", details: { queries: mq.lastQueries } }),
      );
    } else if (e?.kind === "aaq") {
      let aaq: AnswerAsQueryRetriever;
      add(
        "expand",
        (inner) => (aaq = new AnswerAsQueryRetriever(inner, ctx.llm!)),
        () => ({ name: "aaq", details: { draft: aaq.lastDraft } }),
      );
    }
    if (reranker && r.reranker) {
      const top = r.reranker.top ?? 50;
      add(
        "rerank",
        (inner) => new RerankingRetriever(inner, reranker, { topN: top }),
        (input, output) => ({ name: reranker.id, details: { top, moved: moves(input, output) } }),
      );
    }
    if (r.mmr) {
      const lambda = r.mmr.lambda ?? 0.5;
      add(
        "mmr",
        (inner) => new MmrRetriever(inner, ctx.embedder!, { lambda }),
        (input, output) => ({
          name: `mmr(${lambda})`,
          details: { lambda, moved: moves(input, output), dropped: droppedFrom(input, output, output.length) },
        }),
      );
    }
    if (r.window !== undefined) {
      const w = r.window;
      add(
        "window",
        (inner) =>
          new ExpandingRetriever(inner, storeOf, w === "parent" ? { mode: "parent" } : { mode: "window", size: w }),
        (input, output) => ({
          name: w === "parent" ? "parent" : `window${w}`,
          details: { expanded: expansions(input, output), merged: droppedFrom(input, output, input.length) },
        }),
      );
    }
    if (compressor) {
      let compressing: CompressingRetriever;
      add(
        "compress",
        (inner) => (compressing = new CompressingRetriever(inner, compressor, ctx.tokens)),
        (input, output) => {
          const s = compressing.lastStats;
          return {
            name: compressor.id,
            details: {
              ...(s
                ? {
                    tokens_before: s.tokensBefore,
                    tokens_after: s.tokensAfter,
                    tokens_saved: s.tokensBefore - s.tokensAfter,
                    saving: round4(s.saving),
                  }
                : {}),
              ...removals(input, output),
            },
          };
        },
      );
    }
    return layers;
  };

  const name = recipeName(r);
  const retrieveWithTrace = async (query: string, options: Partial<RetrieveOptions> = {}): Promise<TracedRetrieval> => {
    const layers = chain();
    const top = new Probe(layers[layers.length - 1]!.retriever);
    const filter = r.filter || options.filter ? { ...r.filter, ...options.filter } : undefined;
    const hits = await top.retrieve(query, {
      topK: options.topK ?? r.top_k,
      ...(filter ? { filter } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const stages = layers.map((layer, i): StageTrace => {
      const above = layers[i + 1]?.below ?? top;
      const input = layer.below?.last ?? [];
      const { name: stageName, details } = layer.describe(input, above.last);
      return {
        stage: layer.stage,
        name: stageName,
        ms: roundMs(above.busy() - (layer.below?.busy() ?? 0)),
        ...(layer.below ? { input: input.length } : {}),
        output: above.last.length,
        ...(details && Object.keys(details).length > 0 ? { details } : {}),
      };
    });
    return { hits, stages };
  };
  return {
    name,
    recipe: r,
    retrieveWithTrace,
    retrieve: async (query, options) => (await retrieveWithTrace(query, options)).hits,
    dispose: async () => {
      if (loaded) await reranker?.dispose?.();
    },
  };
}

function routing(r: ResolvedRecipe, ctx: RecipeContext): Routing {
  const c = r.collections!;
  if (c.combine !== "route") return { mode: "fuse" };
  return c.router === "llm"
    ? { mode: "route-llm", llm: ctx.llm! }
    : { mode: "route-embedding", embedder: ctx.embedder! };
}

function checkStores(r: ResolvedRecipe, stores: CollectionStore[]): void {
  const names = r.collections?.names;
  const open = stores.map((s) => s.manifest.name);
  const ok = names ? names.length === open.length && names.every((n, i) => n === open[i]) : open.length === 1;
  if (!ok)
    throw new InfuseError(
      "rag.recipe_stores",
      `the recipe searches ${names ? names.join(", ") : "one collection"} but ${open.join(", ") || "none"} ${open.length === 1 ? "is" : "are"} open`,
      { kind: "internal", hint: "open the collections the recipe's collections.names lists, in that order" },
    );
}

function needModel(r: ResolvedRecipe, what: string, key: string): never {
  throw new InfuseError("rag.recipe_needs_model", `the recipe ${recipeName(r)} needs ${what} for "${key}"`, {
    kind: "usage",
    hint: `give it ${what}, or drop "${key}" from the recipe`,
    details: { key },
  });
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
