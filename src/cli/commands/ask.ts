// `infuse ask "question"`: retrieve from a collection and answer with cited sources, streaming a
// generative answer, or quoting the best passages when no language model is available.
import { InvalidArgumentError, Option } from "commander";
import type { ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import { renderSources } from "../../rag/generate/sources.js";
import { ask, type AskOptions, type AskResult } from "../../rag/pipeline/ask.js";
import { collectionEmbedder, resolveChatModel } from "../../rag/pipeline/models.js";
import { RETRIEVAL_MODES, type FusionMethod, type RetrievalMode } from "../../rag/retrieve/index.js";
import { parseFilterArgs, requireManifest } from "../../rag/store/index.js";
import type { Command } from "commander";
import type { CommandRuntime, RegisterCommand } from "../runtime.js";

export interface AskFlags {
  collection?: string;
  mode?: RetrievalMode;
  fusion?: FusionMethod;
  topK?: number;
  filter?: string[];
  /** A spec, or false for --no-llm. */
  llm?: string | boolean;
  embedder?: string;
  log?: boolean;
  maxTokens?: number;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

export function collectionName(flag: string | undefined, config: ResolvedConfig): string {
  return flag ?? config.rag.collection ?? "default";
}

/** The retrieval and answer options shared by ask, chat and demo. */
export function addAskOptions(command: Command): Command {
  return command
    .option("--collection <name>", 'collection to search (default: rag.collection or "default")')
    .addOption(
      new Option("--mode <mode>", "retrieval: dense, bm25 or hybrid (default hybrid)").choices(RETRIEVAL_MODES),
    )
    .addOption(
      new Option("--fusion <method>", "hybrid fusion: reciprocal rank or weighted scores").choices(["rrf", "weighted"]),
    )
    .option("-k, --top-k <n>", "passages to retrieve (default: rag.topK or 5)", positiveInt)
    .option("--filter <key=value...>", "metadata filters, AND-ed; repeat a key for OR (source, page, any metadata)")
    .option("--llm <spec>", "chat model: a GGUF path or hf: reference, openai:MODEL, ollama:MODEL (default: rag.llm)")
    .option("--no-llm", "answer extractively, without a language model")
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
  const collection = collectionName(flags.collection, config);
  const manifest = await requireManifest(config.dataDir, collection);
  const embedder = await collectionEmbedder(manifest.embedder, flags.embedder, { config, signal: rt.signal });
  const choice =
    flags.llm === false
      ? { reason: "--no-llm was given" }
      : await resolveChatModel(typeof flags.llm === "string" ? flags.llm : undefined, { config, signal: rt.signal });
  if (choice.reason && flags.llm !== false && config.rag.llm !== undefined) rt.out.warn(choice.reason);
  return {
    dataDir: config.dataDir,
    collection,
    embedder,
    ...(choice.model ? { llm: choice.model } : {}),
    ...(choice.reason ? { noLlmReason: choice.reason } : {}),
    ...(flags.mode ? { mode: flags.mode } : {}),
    ...(flags.fusion ? { fusion: flags.fusion } : {}),
    topK: flags.topK ?? config.rag.topK ?? 5,
    ...(flags.filter ? { filter: parseFilterArgs(flags.filter)! } : {}),
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
export function askJson(r: AskResult): Record<string, unknown> {
  return {
    answer: r.answer,
    mode: r.mode,
    ...(r.note ? { note: r.note } : {}),
    ...(r.standalone ? { standalone: r.standalone } : {}),
    sources: r.sources.map((s) => ({
      n: s.n,
      source: s.source,
      page: s.page,
      chunk_id: s.chunk_id,
      score: s.score,
      retriever: s.retriever,
      heading: s.heading,
    })),
    retriever: r.retriever,
    latency_ms: r.latencyMs,
  };
}

/** Human text: the answer (unless it was already streamed), then the sources. */
export function renderAnswer(r: AskResult, streamed: boolean): string {
  const head =
    r.mode === "extractive"
      ? `(extractive answer: ${r.note ?? "no language model"}; quoting the best passages)\n${r.answer}`
      : streamed
        ? ""
        : r.answer;
  const sources = r.sources.length > 0 ? `\nSources:\n${renderSources(r.hits)}` : "\n(no sources found)";
  return `${head}${streamed && r.mode === "generative" ? "\n" : "\n"}${sources}`.replace(/^\n/, "");
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
    process.stdout.write(piece);
  };
  return {
    options: rt.out.json ? {} : { onToken },
    get streamed() {
      return streamed;
    },
    end() {
      if (streamed) process.stdout.write("\n");
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
        "\nWithout a language model (none configured, or unreachable) the answer quotes the best passages.\n" +
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
          rt.out.result(rt.out.json ? askJson(result) : result, (r: AskResult) => renderAnswer(r, stream.streamed));
        } finally {
          await options.dispose();
        }
      }),
    );
};
