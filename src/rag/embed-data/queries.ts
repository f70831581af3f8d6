// Queries for passages: with an LLM, N queries per passage from a prompt file, the answer checked
// (malformed JSON asked again `retries` times, then counted and reported, never kept); without
// one, offline title and inverse-cloze pairs. Writes a pairs file in passage order; an existing
// file is resumed (passages it already has pairs for are skipped).
import { performance } from "node:perf_hooks";
import type { EndpointSpec, ResolvedConfig } from "../../core/config.js";
import type { TaskOptions } from "../../core/progress.js";
import { complete } from "../expand/complete.js";
import { resolveChatModel, specString } from "../pipeline/models.js";
import type { StoreProvider } from "../store/index.js";
import type { ChatModel } from "../types.js";
import { corpusPassages, type CorpusInput } from "./corpus.js";
import { offlinePairsOf, passageSeed } from "./offline.js";
import { checkOptions, QueryOptionsSchema } from "./options.js";
import { pairsWriter, type Pair } from "./pairs.js";
import { passageText, type Passage } from "./passages.js";
import { loadPromptTemplate, parseAnswer, renderPrompt } from "./prompt.js";
import { resumePairs, runInOrder } from "./run.js";

export interface GenerateQueriesOptions extends TaskOptions {
  config: ResolvedConfig;
  store?: StoreProvider;
  /** The pairs file to write (JSONL); an existing one is resumed. */
  out: string;
  /** The model that writes queries: a spec (as `--llm`) or a loaded chat model. None: offline pairs. */
  llm?: string | EndpointSpec | ChatModel;
  /** Prompt template file; default the shipped query-prompt.txt. */
  prompt?: string;
  /** Queries per passage (LLM); default 3. */
  queriesPerPassage?: number;
  /** Asks again after a malformed answer this many times; default 2. */
  retries?: number;
  /** Passages in flight at once; default 1. */
  concurrency?: number;
  maxTokens?: number;
  temperature?: number;
  /** Offline: title → passage pairs; default true. */
  title?: boolean;
  /** Offline: inverse-cloze pairs; default true. */
  inverseCloze?: boolean;
  /** The first N passages only. */
  limit?: number;
  seed?: number;
}

export interface MalformedAnswer {
  passage: string;
  reason: string;
  /** The start of the last answer. */
  answer: string;
}

export interface GenerateQueriesResult {
  out: string;
  /** "llm:<model>" or "offline". */
  mode: string;
  passages: number;
  /** Passages an earlier run had done (skipped now). */
  skipped: number;
  /** Pairs written now (one query each). */
  queriesWritten: number;
  /** Pairs written now, by source. */
  sources: Record<string, number>;
  /** Passages without pairs: every answer was malformed (LLM), or nothing to pair (offline). */
  malformed: number;
  /** Answers asked again because the one before was malformed. */
  retried: number;
  /** Offline: passages too short to give any pair. */
  unpaired: number;
  /** The first malformed answers, to see what the model wrote. */
  malformedExamples: MalformedAnswer[];
  /** The prompt file used (LLM). */
  prompt?: string;
  seconds: number;
}

interface Outcome {
  pairs: Pair[];
  retried: number;
  malformed?: MalformedAnswer;
}

async function askLlm(
  model: ChatModel,
  source: string,
  template: string,
  p: Passage,
  o: GenerateQueriesOptions,
): Promise<Outcome> {
  const n = o.queriesPerPassage ?? 3;
  const retries = o.retries ?? 2;
  const content = renderPrompt(template, p, n);
  let last = { reason: "", answer: "" };
  for (let attempt = 0; attempt <= retries; attempt++) {
    const reply = await complete(model, [{ role: "user", content }], {
      maxTokens: o.maxTokens ?? 512,
      temperature: o.temperature ?? 0.7,
      seed: (passageSeed(o.seed ?? 0, p.id) + attempt) >>> 0,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const parsed = parseAnswer(reply, n);
    if (parsed.ok) {
      const pos = passageText(p);
      return {
        pairs: parsed.queries.map((query) => ({ query, pos: [pos], source, pos_ids: [p.id] })),
        retried: attempt,
      };
    }
    last = { reason: parsed.reason, answer: reply.slice(0, 200) };
  }
  return { pairs: [], retried: retries, malformed: { passage: p.id, ...last } };
}

async function chatModel(llm: NonNullable<GenerateQueriesOptions["llm"]>, o: GenerateQueriesOptions) {
  if (typeof llm === "object" && "chat" in llm) return { model: llm, owned: false, source: `llm:${llm.id}` };
  const choice = await resolveChatModel(llm, { config: o.config, ...(o.signal ? { signal: o.signal } : {}) });
  return { model: choice.model!, owned: true, source: `llm:${specString(llm)}` };
}

/**
 * Writes query–passage pairs for the passages of `input` (a passages JSONL file, a collection, or
 * passages) to `options.out`: LLM-written queries with `llm`, offline pairs without.
 */
export async function generateQueries(
  input: string | CorpusInput,
  options: GenerateQueriesOptions,
): Promise<GenerateQueriesResult> {
  const started = performance.now();
  const { config: _c, store: _s, signal: _g, onProgress: _p, llm, ...settings } = options;
  checkOptions(QueryOptionsSchema, { ...settings, ...(typeof llm === "string" ? { llm } : {}) });
  const corpus: CorpusInput = typeof input === "string" ? { file: input } : input;
  let passages = await corpusPassages(corpus, {
    config: options.config,
    ...(options.store ? { store: options.store } : {}),
  });
  if (options.limit !== undefined) passages = passages.slice(0, options.limit);
  const done = new Set((await resumePairs(options.out)).flatMap((p) => p.pos_ids ?? []));
  const todo = passages.filter((p) => !done.has(p.id));
  const chat = llm !== undefined ? await chatModel(llm, options) : undefined;
  const prompt = chat ? await loadPromptTemplate(options.prompt) : undefined;
  const result: GenerateQueriesResult = {
    out: options.out,
    mode: chat?.source ?? "offline",
    passages: passages.length,
    skipped: passages.length - todo.length,
    queriesWritten: 0,
    sources: {},
    malformed: 0,
    retried: 0,
    unpaired: 0,
    malformedExamples: [],
    ...(prompt ? { prompt: prompt.file } : {}),
    seconds: 0,
  };
  const writer = await pairsWriter(options.out, { append: true });
  try {
    await runInOrder(
      todo,
      options.concurrency ?? 1,
      async (p): Promise<Outcome> =>
        chat && prompt
          ? askLlm(chat.model, chat.source, prompt.template, p, options)
          : { pairs: offlinePairsOf(p, { ...pickOffline(options) }), retried: 0 },
      async (r, i) => {
        await writer.write(...r.pairs);
        result.queriesWritten += r.pairs.length;
        for (const pair of r.pairs) result.sources[pair.source!] = (result.sources[pair.source!] ?? 0) + 1;
        result.retried += r.retried;
        if (r.malformed) {
          result.malformed++;
          if (result.malformedExamples.length < 5) result.malformedExamples.push(r.malformed);
        } else if (r.pairs.length === 0) result.unpaired++;
        options.onProgress?.({
          task: chat ? "write queries" : "offline pairs",
          done: result.skipped + i + 1,
          total: passages.length,
          unit: "passages",
          note: `${result.queriesWritten} queries, ${result.malformed} malformed`,
        });
      },
      options.signal,
    );
  } finally {
    await writer.close();
    if (chat?.owned) await chat.model.dispose?.();
  }
  result.seconds = Math.round(((performance.now() - started) / 1000) * 100) / 100;
  return result;
}

function pickOffline(o: GenerateQueriesOptions) {
  return {
    ...(o.title !== undefined ? { title: o.title } : {}),
    ...(o.inverseCloze !== undefined ? { inverseCloze: o.inverseCloze } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}
