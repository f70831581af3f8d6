// `infuse ask "question"`: retrieve from a collection by a recipe and answer with cited sources,
// streaming a generative answer, or quoting the best passages when no language model is available.
// The recipe is layered: rag.retrieval in the config < --recipe FILE.json < flags.
import { InvalidArgumentError, Option } from "commander";
import { configSection, type ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import { renderSources } from "../../rag/generate/sources.js";
import { ask, askBody, type AskOptions, type AskResult } from "../../rag/pipeline/ask.js";
import { collectionEmbedder, resolveChatModel } from "../../rag/pipeline/models.js";
import { rerankerLoader } from "../../rag/recipe/models.js";
import { mergeRecipes, parseRecipe, readRecipeFile } from "../../rag/recipe/recipe.js";
import { RecipeSchema, type Recipe } from "../../rag/recipe/schema.js";
import type { StageTrace } from "../../rag/recipe/trace.js";
import { RETRIEVAL_MODES, type FusionMethod, type RetrievalMode } from "../../rag/retrieve/index.js";
import { parseFilterArgs, storeProvider } from "../../rag/store/index.js";
import type { Command } from "commander";
import type { CommandRuntime, RegisterCommand } from "../runtime.js";
import { chatModelSpec } from "../../rag/llm/spec.js";

export interface AskFlags {
  collection?: string;
  mode?: RetrievalMode;
  fusion?: FusionMethod;
  topK?: number;
  filter?: string[];
  rerank?: string;
  rerankTop?: number;
  expand?: "rm3" | "multiquery" | "hyde" | "aaq";
  mmr?: number;
  /** true (no value) means embedding. */
  compress?: string | true;
  compressThreshold?: number;
  window?: number;
  parent?: boolean;
  route?: boolean;
  recipe?: string;
  /** A spec, or false for --no-llm. */
  llm?: string | boolean;
  /** A LoRA adapter folder from `infuse tune`, put on the --llm model (infuse's engine runs it). */
  adapter?: string;
  embedder?: string;
  log?: boolean;
  maxTokens?: number;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function fraction(lo: number, hi: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < lo || n > hi)
      throw new InvalidArgumentError(`expected a number from ${lo} to ${hi}`);
    return n;
  };
}

export function collectionName(flag: string | undefined, config: ResolvedConfig): string {
  return flag?.split(",")[0]?.trim() || (config.rag.collection ?? "default");
}

/** The recipe the retrieval flags spell (only what they set). */
export function flagsRecipe(flags: AskFlags): Recipe {
  const names = flags.collection
    ?.split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  if (flags.window !== undefined && flags.parent)
    throw new InfuseError("rag.window_and_parent", "--window and --parent both expand the passages", {
      kind: "usage",
      hint: "keep one of them",
    });
  const compress = flags.compress === true ? "embedding" : flags.compress;
  if (flags.compressThreshold !== undefined && compress === "llm")
    throw new InfuseError("rag.threshold_needs_embedding", "--compress-threshold applies to --compress embedding", {
      kind: "usage",
    });
  const recipe = {
    ...(flags.mode || flags.fusion
      ? {
          retriever: { ...(flags.mode ? { mode: flags.mode } : {}), ...(flags.fusion ? { fusion: flags.fusion } : {}) },
        }
      : {}),
    ...(flags.expand ? { expansion: { kind: flags.expand } } : {}),
    ...(flags.rerank
      ? {
          reranker: {
            ...(flags.rerank === "llm" ? { kind: "llm" } : { kind: "cross-encoder", model: flags.rerank }),
            ...(flags.rerankTop ? { top: flags.rerankTop } : {}),
          },
        }
      : {}),
    ...(flags.mmr !== undefined ? { mmr: { lambda: flags.mmr } } : {}),
    ...(flags.window !== undefined ? { window: flags.window } : flags.parent ? { window: "parent" } : {}),
    ...(compress || flags.compressThreshold !== undefined
      ? {
          compression:
            compress === "llm"
              ? { kind: "llm" }
              : {
                  kind: "embedding",
                  ...(flags.compressThreshold !== undefined ? { threshold: flags.compressThreshold } : {}),
                },
        }
      : {}),
    ...(flags.topK ? { top_k: flags.topK } : {}),
    ...(flags.filter ? { filter: parseFilterArgs(flags.filter)! } : {}),
    ...(names && names.length > 1 ? { collections: { names } } : {}),
  };
  return parseRecipe(recipe, "flags");
}

/** The recipe an ask runs: rag.topK < rag.retrieval (config) < --recipe FILE < flags. */
export async function askRecipe(flags: AskFlags, config: ResolvedConfig): Promise<Recipe> {
  const recipe = mergeRecipes(
    config.rag.topK !== undefined ? { top_k: config.rag.topK } : undefined,
    configSection(config, "rag.retrieval", RecipeSchema),
    flags.recipe ? await readRecipeFile(flags.recipe) : undefined,
    flagsRecipe(flags),
  );
  if (flags.route) {
    // --route routes the collections named by --collection a,b, a recipe file or the config
    if (!recipe.collections || recipe.collections.names.length < 2)
      throw new InfuseError("rag.route_needs_collections", "--route picks one of several collections", {
        kind: "usage",
        hint: "name them: --collection a,b --route",
      });
    recipe.collections = { ...recipe.collections, combine: "route" };
  }
  if (flags.rerankTop !== undefined) {
    // --rerank-top alone tunes the reranker the config or recipe file names
    if (!recipe.reranker)
      throw new InfuseError("rag.rerank_top_needs_reranker", "--rerank-top needs a reranker", {
        kind: "usage",
        hint: "add --rerank MODEL or --rerank llm (or a reranker in the recipe file)",
      });
    recipe.reranker = { ...recipe.reranker, top: flags.rerankTop };
  }
  return recipe;
}

/** The retrieval and answer options shared by ask, chat and demo. */
export function addAskOptions(command: Command): Command {
  return command
    .option(
      "--collection <names>",
      'collection to search; a comma list searches several, fused (default: rag.collection or "default")',
    )
    .option("--route", "with several collections: search only the one the question matches best")
    .addOption(
      new Option(
        "--mode <mode>",
        "retrieval: dense, bm25 or hybrid (default hybrid; bm25 with the hash embedder)",
      ).choices(RETRIEVAL_MODES),
    )
    .addOption(
      new Option("--fusion <method>", "hybrid fusion: reciprocal rank or weighted scores").choices(["rrf", "weighted"]),
    )
    .addOption(
      new Option(
        "--expand <kind>",
        "query expansion: rm3 (no model), multiquery, hyde or aaq (answer-as-query; need --llm)",
      ).choices(["rm3", "multiquery", "hyde", "aaq"]),
    )
    .option("--rerank <model>", "rerank with a cross-encoder (ONNX folder or hf: reference) or llm (the answer model)")
    .option("--rerank-top <n>", "first-stage passages the reranker rescores (default 50)", positiveInt)
    .option("--mmr <lambda>", "diversify by maximal marginal relevance; 1 = relevance only (e.g. 0.5)", fraction(0, 1))
    .addOption(
      new Option(
        "--compress [kind]",
        "keep only the sentences that bear on the question: embedding (default) or llm",
      ).choices(["embedding", "llm"]),
    )
    .option(
      "--compress-threshold <x>",
      "cosine a sentence needs to stay (embedding compression; default 0.2)",
      fraction(-1, 1),
    )
    .option("--window <n>", "add n neighbouring chunks on each side of every passage", positiveInt)
    .option("--parent", "replace every passage by its whole document (up to 8000 characters)")
    .option("-k, --top-k <n>", "passages to retrieve (default: rag.topK or 5)", positiveInt)
    .option("--filter <key=value...>", "metadata filters, AND-ed; repeat a key for OR (source, page, any metadata)")
    .option("--recipe <file.json>", "a retrieval recipe file (flags override its keys)")
    .option(
      "--llm <spec>",
      "chat model: a GGUF path (llama.cpp) or hf: reference, a Hugging Face folder or engine:MODEL[+ADAPTER] (infuse's engine), openai:MODEL, ollama:MODEL (default: rag.llm)",
    )
    .option("--no-llm", "answer extractively, without a language model")
    .option("--adapter <dir>", "a LoRA adapter from infuse tune, put on the --llm model (runs in infuse's engine)")
    .option("--max-tokens <n>", "longest generated answer, in tokens (default 512)", positiveInt)
    .option("--embedder <spec>", "query embedder (default: the one the collection was built with)")
    .option("--no-log", "do not append to the inference log");
}

/** Opens what an ask needs: the collection's embedder and the chat model (or why there is none). */
export async function askSetup(
  rt: CommandRuntime,
  flags: AskFlags,
): Promise<AskOptions & { dispose(): Promise<void> }> {
  const config = await rt.config();
  const recipe = await askRecipe(flags, config);
  const names = recipe.collections?.names ?? [collectionName(flags.collection, config)];
  const collection = names[0]!;
  const store = storeProvider(config);
  const manifests = await Promise.all(names.map((n) => store.requireManifest(n)));
  const manifest = manifests[0]!;
  const other = manifests.find((m) => m.embedder.id !== manifest.embedder.id);
  if (other)
    throw new InfuseError(
      "rag.collections_embedders_differ",
      `collections ${manifest.name} and ${other.name} were embedded by different models (${manifest.embedder.id}, ${other.embedder.id})`,
      { kind: "usage", hint: "search collections built with one embedder together, or ask them one at a time" },
    );
  const embedder = await collectionEmbedder(manifest.embedder, flags.embedder, { config, signal: rt.signal });
  const choice =
    flags.llm === false
      ? { reason: "--no-llm was given" }
      : await resolveChatModel(
          chatModelSpec(typeof flags.llm === "string" ? flags.llm : config.rag.llm, flags.adapter),
          { config, signal: rt.signal },
        );
  if (choice.reason && flags.llm !== false && config.rag.llm !== undefined) rt.out.warn(choice.reason);
  return {
    dataDir: config.dataDir,
    store,
    collection,
    embedder,
    ...(choice.model ? { llm: choice.model } : {}),
    ...(choice.reason ? { noLlmReason: choice.reason } : {}),
    recipe,
    loadReranker: rerankerLoader(config, rt.signal),
    ...(flags.log === false ? { log: false as const } : {}),
    generate: { maxTokens: flags.maxTokens ?? 512 },
    signal: rt.signal,
    dispose: async () => {
      await choice.model?.dispose?.();
      await embedder.dispose?.();
    },
  };
}

/** The JSON an ask prints with --json. */
/** One line: each stage with its time and what it did to the passages. */
export function stageSummary(stages: StageTrace[]): string {
  return stages
    .map((s) => {
      const d = s.details ?? {};
      const effect =
        s.stage === "compress" && typeof d["tokens_before"] === "number"
          ? `, ${String(d["tokens_before"])}→${String(d["tokens_after"])} tokens`
          : s.stage === "rerank" || s.stage === "mmr"
            ? `, ${(d["moved"] as unknown[] | undefined)?.length ?? 0} moved`
            : s.stage === "window"
              ? `, ${(d["expanded"] as unknown[] | undefined)?.length ?? 0} expanded`
              : "";
      const counts = s.input === undefined ? `${s.output}` : `${s.input}→${s.output}`;
      return `${["retrieve", "expand", "generate"].includes(s.stage) ? s.name : s.stage} ${s.ms}ms (${counts}${effect})`;
    })
    .join(" → ");
}

/**
 * Human text: the answer (unless it was already streamed), then the passages it cites (or, when
 * it cites none, those it was given) and the citations no passage has.
 */
export function renderAnswer(r: AskResult, streamed: boolean): string {
  const head =
    r.mode === "extractive"
      ? `(extractive answer: ${r.note ?? "no language model"}${r.sources.length > 0 ? "; quoting the best passages" : ""})\n${r.answer}`
      : streamed
        ? ""
        : r.answer;
  const sources =
    r.sources.length > 0
      ? `\nSources:\n${renderSources(
          r.hits,
          r.sources.map((s) => s.n),
        )}`
      : r.hits.length > 0
        ? `\nPassages given (the answer cites none of them):\n${renderSources(r.hits)}`
        : "\n(no sources found)";
  const invalid = r.invalidCitations.length > 0 ? `\n(${invalidCitationsText(r)})` : "";
  const stages = r.stages.length > 2 ? `\nStages: ${stageSummary(r.stages)}` : "";
  return `${head}${streamed && r.mode === "generative" ? "\n" : "\n"}${sources}${invalid}${stages}`.replace(/^\n/, "");
}

/** "the answer cites [7], but only 3 passages were given: not a source". */
export function invalidCitationsText(r: AskResult): string {
  const cites = r.invalidCitations.map((n) => `[${n}]`).join("");
  const given = r.hits.length === 1 ? "1 passage was" : `${r.hits.length} passages were`;
  return `the answer cites ${cites}, but only ${given} given: ${r.invalidCitations.length > 1 ? "not sources" : "not a source"}`;
}

/** Warns (stderr, also with --json) when an answer cites passages it was not given. */
export function warnInvalidCitations(rt: CommandRuntime, r: AskResult): void {
  if (r.invalidCitations.length > 0) rt.out.warn(invalidCitationsText(r));
}

/** Streams answer pieces to stdout as they come (not under --json); `end()` closes the line. */
export function answerStream(rt: CommandRuntime): {
  options: { onToken?: (piece: string) => void };
  readonly streamed: boolean;
  end(): void;
} {
  let streamed = false;
  const onToken = (piece: string) => {
    streamed = true;
    rt.out.stream(piece);
  };
  return {
    options: rt.out.json ? {} : { onToken },
    get streamed() {
      return streamed;
    },
    end() {
      if (streamed) rt.out.stream("\n");
    },
  };
}

export const registerAsk: RegisterCommand = (program, run) => {
  addAskOptions(program.command("ask").argument("<question>", "the question"))
    .description("answer a question from a collection, citing the passages used")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        '  infuse ask "How long must passwords be?" --collection handbook\n' +
        '  infuse ask "What changed in 2.4?" --mode bm25 -k 3 --filter source=release-notes.html\n' +
        '  infuse ask "How do I claim travel?" --llm ollama:llama3.2 --json\n' +
        '  infuse ask "What is the refund window?" --llm engine:base.gguf+runs/faq   # the tuned adapter, unmerged\n' +
        '  infuse ask "Who approves leave?" --mode hybrid --expand rm3 --rerank llm --mmr 0.5 --compress --json\n' +
        '  infuse ask "Which port?" --collection handbook,wiki --rerank ./ms-marco-MiniLM-L-6-v2 --window 1\n' +
        '  infuse ask "Which port?" --recipe recipe.json -k 8\n' +
        "\nA recipe file holds the same choices as JSON (also rag.retrieval in infuse.config.json), e.g.\n" +
        '  {"retriever": {"mode": "hybrid"}, "expansion": {"kind": "rm3"}, "reranker": {"kind": "llm", "top": 20},\n' +
        '   "mmr": {"lambda": 0.5}, "window": 1, "compression": {"kind": "embedding", "threshold": 0.2}, "top_k": 5}\n' +
        "Flags override the recipe file, which overrides the config. --json prints the recipe run and each stage.\n" +
        "\nWithout a language model (none configured, or unreachable) the answer quotes the best passages.\n" +
        "Sources lists the passages the answer cites, numbered as the model saw them; a citation of a passage\n" +
        "it was not given is warned about and never listed (--json: sources, invalid_citations, and context:\n" +
        "every passage given). Passages reach the model fenced as data, not instructions.\n" +
        "Every ask is appended to <data dir>/logs/inference.jsonl (turn off with --no-log).",
    )
    .action(
      run(async (rt, question: string, flags: AskFlags) => {
        if (question.trim().length === 0)
          throw new InfuseError("rag.empty_question", "the question is empty", { kind: "usage" });
        const options = await askSetup(rt, flags);
        const stream = answerStream(rt);
        try {
          const result = await ask(question, { ...options, ...stream.options });
          stream.end();
          warnInvalidCitations(rt, result);
          rt.out.result(rt.out.json ? askBody(result) : result, (r: AskResult) => renderAnswer(r, stream.streamed));
        } finally {
          await options.dispose();
        }
      }),
    );
};
