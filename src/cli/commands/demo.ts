// `infuse demo`: the end-to-end RAG demo on the sample corpus the project ships
// (examples/sample-docs): ingest into the "demo" collection, then answer two questions.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InfuseError } from "../../core/errors.js";
import { pullRecommended, RECOMMENDED_MODELS, type RecommendedPull } from "../../hub/recommended.js";
import { ask, askBody, type AskResult } from "../../rag/pipeline/ask.js";
import { ingestPath } from "../../rag/pipeline/ingest.js";
import { DEFAULT_EMBEDDER_SPEC, resolveChatModel, resolveEmbedder } from "../../rag/pipeline/models.js";
import { storeProvider } from "../../rag/store/index.js";
import type { CommandRuntime, RegisterCommand } from "../runtime.js";
import { renderAnswer, warnInvalidCitations } from "./ask.js";
import { renderIngest } from "./ingest.js";

export const DEMO_QUESTIONS = ["How long must passwords be?", "How do I claim travel expenses?"];

/** examples/sample-docs, found from this file upwards (source tree or installed package). */
export function sampleDocsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, "examples", "sample-docs");
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new InfuseError("rag.demo_docs_missing", "the sample documents (examples/sample-docs) are not installed", {
    kind: "not_found",
    hint: "run the demo from a checkout of infuse",
  });
}

export const registerDemo: RegisterCommand = (program, run) => {
  program
    .command("demo")
    .description("end-to-end RAG demo: ingest the shipped sample documents and answer two questions with citations")
    .option("--llm <spec>", "chat model for generative answers (default: rag.llm; none → extractive answers)")
    .option("--embedder <spec>", 'embedding model (default: rag.embedder or the built-in "hash-1024-unigram-stop")')
    .option("--max-tokens <n>", "longest generated answer, in tokens", "256")
    .option(
      "--models <set>",
      'model set: "default" (embedded, no download) or "recommended" (pull a small embedder, reranker and instruct GGUF from the hub and use them; offline keeps the defaults)',
      "default",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  infuse demo\n  infuse demo --models recommended\n  infuse demo --llm ollama:llama3.2\n  infuse demo --json\n" +
        '\nThe "demo" collection lives in the data folder; `infuse ask "..." --collection demo` asks it more.',
    )
    .action(
      run(async (rt, flags: { llm?: string; embedder?: string; models: string; maxTokens: string }) => {
        const config = await rt.config();
        const pulled = await pullModels(rt, flags.models);
        const pick = (role: string) => pulled?.models.find((m) => m.role === role)?.ref;
        const spec = flags.embedder ?? pick("embedder") ?? config.rag.embedder ?? DEFAULT_EMBEDDER_SPEC;
        const embedder = await resolveEmbedder(spec, { config, signal: rt.signal });
        const store = storeProvider(config);
        const existing = await store.manifest("demo");
        if (existing && existing.embedder.id !== embedder.id) await store.delete("demo");
        const docs = sampleDocsDir();
        const progress = rt.out.progress();
        const report = await ingestPath("demo", docs, {
          dataDir: config.dataDir,
          store,
          embedder,
          embedderSpec: spec,
          signal: rt.signal,
          onProgress: progress,
        }).finally(() => progress.done());
        rt.out.info(`ingested ${docs}\n${renderIngest(report)}\n`);
        const choice = await resolveChatModel(flags.llm ?? pick("chat"), { config, signal: rt.signal });
        const answers: AskResult[] = [];
        try {
          for (const question of DEMO_QUESTIONS) {
            rt.out.info(`Q: ${question}`);
            let streamed = false;
            const result = await ask(question, {
              dataDir: config.dataDir,
              store,
              collection: "demo",
              embedder,
              ...(choice.model ? { llm: choice.model } : {}),
              ...(choice.reason ? { noLlmReason: choice.reason } : {}),
              recipe: { top_k: 3 },
              generate: { maxTokens: positiveInt(flags.maxTokens, "--max-tokens") },
              signal: rt.signal,
              ...(rt.out.json ? {} : { onToken: (piece: string) => ((streamed = true), rt.out.stream(piece)) }),
            });
            if (streamed) rt.out.stream("\n");
            warnInvalidCitations(rt, result);
            answers.push(result);
            if (!rt.out.json) rt.out.info(renderAnswer(result, streamed) + "\n");
          }
        } finally {
          await choice.model?.dispose?.();
          await embedder.dispose?.();
        }
        if (rt.out.json)
          rt.out.result(
            {
              ...(pulled ? { models: pulled } : {}),
              ingest: report,
              answers: answers.map((a) => ({ question: a.question, ...askBody(a) })),
            },
            () => "",
          );
      }),
    );
};

/** `--models recommended`: pull the recommended models with progress; offline says so and keeps the defaults. */
async function pullModels(rt: CommandRuntime, set: string): Promise<RecommendedPull | undefined> {
  if (set === "default") return undefined;
  if (set !== "recommended")
    throw new InfuseError("cli.bad_models", `--models ${set}: unknown model set`, {
      kind: "usage",
      hint: "use --models default (embedded, no download) or --models recommended",
    });
  const config = await rt.config();
  const progress = rt.out.progress();
  const pulled = await pullRecommended({ config, signal: rt.signal, onProgress: progress }).finally(() =>
    progress.done(),
  );
  for (const m of pulled.models) rt.out.info(`${m.role}: ${m.ref} (${m.resolved.path})`);
  if (pulled.offline) {
    rt.out.info(
      `offline: the recommended models could not be pulled (${pulled.reason}); keeping the embedded defaults ` +
        `(the "hash" embedder, extractive answers without a chat model)`,
    );
    return { ...pulled, models: [] };
  }
  const reranker = RECOMMENDED_MODELS.find((m) => m.role === "reranker")!.ref;
  rt.out.info(`reranker ready: add "reranker": {"kind": "cross-encoder", "model": "${reranker}"} to a recipe`);
  return pulled;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new InfuseError("cli.bad_number", `${flag} ${text}: not a positive whole number`, {
      kind: "usage",
      hint: `e.g. ${flag} 256`,
    });
  return n;
}
