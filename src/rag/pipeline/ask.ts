// Asking a collection: retrieve (by a recipe) → (generate with citations | extract) → log. The
// answer is generative when a chat model answers, extractive (the best passages, cited) otherwise.
// The result carries the resolved recipe and each stage's time and effect on the passages, and
// the answer's citations checked against the passages given: sources are the passages it cites.
import { InfuseError, isInfuseError } from "../../core/errors.js";
import { checkCitations } from "../generate/citations.js";
import { extractAnswer } from "../generate/extractive.js";
import { buildAnswerPrompt, type PromptOptions } from "../generate/prompt.js";
import { streamChat } from "../generate/answer.js";
import { citedSources, type CitedSource } from "../generate/sources.js";
import { buildRecipeRetriever, type RecipeContext, type RecipeRetriever } from "../recipe/build.js";
import type { Recipe, ResolvedRecipe } from "../recipe/schema.js";
import { roundMs, type StageTrace } from "../recipe/trace.js";
import { LanceDbStoreProvider, type CollectionStore, type StoreProvider } from "../store/index.js";
import type { ChatModel, ChatOptions, Embedder, Hit } from "../types.js";
import { appendInferenceLog, defaultLogFile } from "./log.js";

export interface AskOptions {
  /** The data folder: inference logs, and the default store (LanceDB in `<dataDir>/collections`). */
  dataDir: string;
  /** Where the collections live (the config's `store`); default LanceDB in the data folder. */
  store?: StoreProvider;
  /** The collection searched; a recipe's `collections.names` searches several instead. */
  collection: string;
  /** The collection's embedder (needed for dense and hybrid retrieval). */
  embedder?: Embedder;
  /** The chat model; without one the answer is extractive. */
  llm?: ChatModel;
  /** Why there is no chat model, told to the user with an extractive answer. */
  noLlmReason?: string;
  /** How to retrieve; default: hybrid (bm25 with the `hash` embedder), top 5. */
  recipe?: Recipe;
  /** A retriever already built from the recipe (a chat session builds one for all its turns). */
  retriever?: RecipeRetriever;
  /** Loads the recipe's cross-encoder or LLM reranker model (see `rerankerLoader`). */
  loadReranker?: RecipeContext["loadReranker"];
  prompt?: PromptOptions;
  generate?: Omit<ChatOptions, "signal">;
  /** Called with each streamed piece of a generative answer. */
  onToken?: (piece: string) => void;
  /** Inference log file; default <dataDir>/logs/inference.jsonl; false turns it off. */
  log?: string | false;
  signal?: AbortSignal;
}

export interface AskResult {
  question: string;
  /** The question searched, if it differs (a rewritten chat follow-up). */
  standalone?: string;
  answer: string;
  mode: "generative" | "extractive";
  /** Why the answer is extractive. */
  note?: string;
  /** The passages the answer cites, each numbered as the prompt numbered it (`n` is its place in `hits`). */
  sources: CitedSource[];
  /** The passages the answer was made from (the prompt's context), in their [n] order. */
  hits: Hit[];
  /** Numbers the answer cites as [n] that no given passage has (the model invented them): never sources. */
  invalidCitations: number[];
  /** The recipe's short name (`hybrid+rm3+rerank`). */
  retriever: string;
  /** The recipe that ran, every default filled in. */
  recipe: ResolvedRecipe;
  /** Each retrieval stage, then generation: time and effect on the passages. */
  stages: StageTrace[];
  promptChars: number;
  latencyMs: Record<string, number>;
}

/** The retriever a recipe builds for open collections and the ask's models. */
export function recipeRetriever(
  stores: CollectionStore[],
  options: Pick<AskOptions, "recipe" | "embedder" | "llm" | "loadReranker">,
): Promise<RecipeRetriever> {
  return buildRecipeRetriever(options.recipe ?? {}, {
    stores,
    ...(options.embedder ? { embedder: options.embedder } : {}),
    ...(options.llm ? { llm: options.llm } : {}),
    ...(options.loadReranker ? { loadReranker: options.loadReranker } : {}),
  });
}

/** Retrieves and answers one question against open collections (one, or those the recipe names). */
export async function askStore(
  store: CollectionStore | CollectionStore[],
  question: string,
  options: Omit<AskOptions, "dataDir" | "collection"> & { dataDir: string; standalone?: string },
): Promise<AskResult> {
  if (question.trim().length === 0)
    throw new InfuseError("rag.empty_question", "the question is empty", { kind: "usage" });
  const stores = Array.isArray(store) ? store : [store];
  const searched = options.standalone ?? question;
  const retriever = options.retriever ?? (await recipeRetriever(stores, options));
  const t0 = performance.now();
  let traced;
  try {
    traced = await retriever.retrieveWithTrace(searched, options.signal ? { signal: options.signal } : {});
  } finally {
    if (!options.retriever) await retriever.dispose();
  }
  const hits = traced.hits;
  const t1 = performance.now();
  let answer: string | undefined;
  let note: string | undefined = options.llm ? undefined : (options.noLlmReason ?? "no language model is configured");
  let promptChars = 0;
  let given = hits;
  let check = { cited: [] as number[], invalid: [] as number[] };
  if (options.llm && hits.length > 0) {
    const prompt = buildAnswerPrompt(searched, hits, options.prompt);
    promptChars = prompt.chars;
    try {
      answer = await streamChat(options.llm, prompt.messages, {
        ...options.generate,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onToken ? { onToken: options.onToken } : {}),
      });
      given = prompt.hits;
      check = checkCitations(answer, given.length);
      if (answer.length === 0) {
        answer = undefined;
        note = `the language model ${options.llm.id} returned an empty answer`;
      }
    } catch (e) {
      // a model the caller chose that cannot answer (a server down) is an error, not a silent
      // extractive answer: only asking without any model answers extractively
      if (isInfuseError(e)) throw e;
      throw new InfuseError("rag.llm_failed", `the language model ${options.llm.id} failed: ${(e as Error).message}`, {
        kind: "internal",
        hint: "check that the model or its server works, or ask with --no-llm for an extractive answer",
        cause: e,
      });
    }
  } else if (hits.length === 0) note = noPassageReason(traced.stages, options.llm !== undefined);
  const t2 = performance.now();
  const mode = answer === undefined ? "extractive" : "generative";
  if (answer === undefined) {
    given = hits;
    const extracted = extractAnswer(searched, hits);
    check = { cited: extracted.cited, invalid: [] };
    answer = extracted.answer;
  }
  const text = answer;
  const result: AskResult = {
    question,
    ...(options.standalone && options.standalone !== question ? { standalone: options.standalone } : {}),
    answer: text,
    mode,
    ...(mode === "extractive" && note ? { note } : {}),
    sources: citedSources(given, check.cited),
    hits: given,
    invalidCitations: check.invalid,
    retriever: retriever.name,
    recipe: retriever.recipe,
    stages: [
      ...traced.stages,
      {
        stage: "generate",
        name: mode === "extractive" ? "extractive" : options.llm!.id,
        ms: roundMs(t2 - t1),
        input: hits.length,
        output: given.length,
        details: { prompt_chars: promptChars, cited: check.cited, invalid_citations: check.invalid },
      },
    ],
    promptChars,
    latencyMs: { retrieve: round(t1 - t0), generate: round(t2 - t1), total: round(t2 - t0) },
  };
  if (options.log !== false) {
    await appendInferenceLog(options.log ?? defaultLogFile(options.dataDir), {
      time: new Date().toISOString(),
      collection: stores.map((s) => s.manifest.name).join(","),
      question,
      ...(result.standalone ? { standalone: result.standalone } : {}),
      mode,
      retriever: retriever.name,
      embedder: options.embedder?.id ?? stores[0]!.manifest.embedder.id,
      llm: options.llm?.id ?? null,
      retrieved: given.map((h) => ({ chunk_id: h.chunk.id, source: h.chunk.source, score: h.score })),
      prompt_chars: promptChars,
      answer: text,
      latency_ms: result.latencyMs,
    });
  }
  return result;
}

/** Why an ask has no passage: nothing matched, or a stage (compression, routing) removed every one. */
function noPassageReason(stages: StageTrace[], hasLlm: boolean): string {
  const emptied = stages.find((s) => s.input !== undefined && s.input > 0 && s.output === 0);
  const why = emptied
    ? `the ${emptied.stage} stage (${emptied.name}) removed all ${emptied.input} retrieved passages` +
      (emptied.stage === "compress" ? " (lower --compress-threshold, or drop --compress)" : "")
    : "no passage was retrieved";
  return hasLlm ? `${why}, so the language model was not asked` : why;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Opens the collections an ask searches: the recipe's `collections.names`, else `collection`. */
export async function openAskCollections(
  options: Pick<AskOptions, "dataDir" | "store" | "collection" | "recipe">,
): Promise<CollectionStore[]> {
  const names = options.recipe?.collections?.names ?? [options.collection];
  const stores: CollectionStore[] = [];
  try {
    const provider = options.store ?? new LanceDbStoreProvider(options.dataDir);
    for (const name of names) stores.push(await provider.open(name));
  } catch (e) {
    for (const s of stores) s.close();
    throw e;
  }
  return stores;
}

/** Opens the collection(s), answers one question, closes them. */
export async function ask(question: string, options: AskOptions): Promise<AskResult> {
  const stores = await openAskCollections(options);
  try {
    return await askStore(stores, question, options);
  } finally {
    for (const s of stores) s.close();
  }
}

/** An answer as `infuse ask --json` prints it and the server's ask route returns it (toWire snake_cases the keys). */
export function askBody(r: AskResult): Record<string, unknown> {
  // the answer, what it cites and what was given, without the raw hits (toWire snake_cases the keys)
  return {
    answer: r.answer,
    mode: r.mode,
    ...(r.note ? { note: r.note } : {}),
    ...(r.standalone ? { standalone: r.standalone } : {}),
    sources: r.sources,
    invalidCitations: r.invalidCitations,
    context: citedSources(r.hits),
    retriever: r.retriever,
    recipe: r.recipe,
    stages: r.stages,
    latencyMs: r.latencyMs,
  };
}
