// Retriever configurations by name, for evaluations that compare them: a base retriever
// (`bm25`, `dense`, `hybrid`, `hybrid-weighted`, `hyde`) followed by techniques joined with `+`,
// applied left to right, e.g. `bm25+rm3`, `hybrid+rerank`, `dense+mmr`, `bm25+multiquery`. Leaves out per-technique options
// beyond their defaults (the library classes take them).
import { InfuseError } from "../core/errors.js";
import { CompressingRetriever, EmbeddingCompressor, LlmExtractor } from "../rag/compress/compress.js";
import { AnswerAsQueryRetriever, HydeRetriever, MultiQueryRetriever } from "../rag/expand/llm-query.js";
import { Rm3Retriever } from "../rag/expand/rm3.js";
import { MmrRetriever } from "../rag/multi/mmr.js";
import { ExpandingRetriever } from "../rag/multi/window.js";
import { RerankingRetriever, type Reranker } from "../rag/rerank/reranker.js";
import type { TermStatistics } from "../rag/expand/term-stats.js";
import { createRetriever } from "../rag/retrieve/index.js";
import type { CollectionStore } from "../rag/store/index.js";
import type { ChatModel, Embedder, Retriever } from "../rag/types.js";

export interface ConfigContext {
  store: CollectionStore;
  /** The collection's embedder: needed by dense, hybrid and embedding-based techniques. */
  embedder?: Embedder;
  /** Collection term statistics for RM3's document-frequency filter. */
  termStats?: () => TermStatistics;
  /** For `+rerank`. */
  reranker?: Reranker;
  /** For LLM techniques (`+multiquery`, `+hyde`). */
  llm?: ChatModel;
}

type Technique = (inner: Retriever, ctx: ConfigContext, spec: string) => Retriever;

const BASES = ["bm25", "dense", "hybrid", "hybrid-weighted", "hyde"] as const;

const TECHNIQUES: Record<string, Technique> = {
  rm3: (inner, ctx) => new Rm3Retriever(inner, ctx.termStats ? { stats: ctx.termStats() } : {}),
  rerank: (inner, ctx, spec) => new RerankingRetriever(inner, need(ctx.reranker, "rerank", spec, "--reranker MODEL")),
  mmr: (inner, ctx, spec) => new MmrRetriever(inner, need(ctx.embedder, "mmr", spec, "an embedder")),
  multiquery: (inner, ctx, spec) => new MultiQueryRetriever(inner, need(ctx.llm, "multiquery", spec, "--llm SPEC")),
  aaq: (inner, ctx, spec) => new AnswerAsQueryRetriever(inner, need(ctx.llm, "aaq", spec, "--llm SPEC")),
  compress: (inner, ctx, spec) =>
    new CompressingRetriever(inner, new EmbeddingCompressor(need(ctx.embedder, "compress", spec, "an embedder"))),
  "compress-llm": (inner, ctx, spec) =>
    new CompressingRetriever(inner, new LlmExtractor(need(ctx.llm, "compress-llm", spec, "--llm SPEC"))),
  window1: (inner, ctx) => new ExpandingRetriever(inner, ctx.store, { mode: "window", size: 1 }),
  parent: (inner, ctx) => new ExpandingRetriever(inner, ctx.store, { mode: "parent" }),
};

function need<T>(value: T | undefined, technique: string, spec: string, flag: string): T {
  if (value === undefined)
    throw new InfuseError("eval.technique_needs_model", `"${spec}": +${technique} needs ${flag}`, {
      kind: "usage",
      hint: `add ${flag}, or drop +${technique} from the configuration`,
    });
  return value;
}

/** Registers a technique by name (rerankers and LLM techniques add themselves where they are built). */
export function registerTechnique(name: string, technique: Technique): void {
  TECHNIQUES[name] = technique;
}

export function techniqueNames(): string[] {
  return Object.keys(TECHNIQUES);
}

/** Builds the retriever a configuration names; the retriever's `name` is the configuration. */
export function buildRetriever(spec: string, ctx: ConfigContext): Retriever {
  const [base, ...steps] = spec.trim().split("+");
  if (!base || !(BASES as readonly string[]).includes(base)) {
    throw new InfuseError("eval.retriever_unknown", `unknown base retriever "${base ?? ""}" in "${spec}"`, {
      kind: "usage",
      hint: `start a configuration with one of ${BASES.join(", ")}, then add techniques with +: ${techniqueNames().join(", ")}`,
    });
  }
  let retriever =
    base === "hyde"
      ? new HydeRetriever(
          ctx.store,
          need(ctx.embedder, "hyde", spec, "an embedder"),
          need(ctx.llm, "hyde", spec, "--llm SPEC"),
        )
      : base === "hybrid-weighted"
        ? createRetriever("hybrid", ctx.store, ctx.embedder, { fusion: "weighted" })
        : createRetriever(base as "bm25" | "dense" | "hybrid", ctx.store, ctx.embedder);
  for (const step of steps) {
    const technique = TECHNIQUES[step];
    if (!technique)
      throw new InfuseError("eval.technique_unknown", `unknown technique "${step}" in "${spec}"`, {
        kind: "usage",
        hint: `techniques: ${techniqueNames().join(", ")}`,
      });
    retriever = technique(retriever, ctx, spec);
  }
  return named(retriever, spec.trim());
}

/** The same retriever under the configuration's name (reports and run files use it). */
function named(inner: Retriever, name: string): Retriever {
  if (inner.name === name) return inner;
  const wrapper = { name, retrieve: inner.retrieve.bind(inner) };
  // a compressing retriever's per-query token counts stay readable through the new name
  return Object.defineProperty(wrapper, "lastStats", { get: () => (inner as { lastStats?: unknown }).lastStats });
}
