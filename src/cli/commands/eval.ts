// `infuse eval retrieval` (BEIR data: nDCG@10, recall@10/100, MRR@10, MAP per configuration) and
// `infuse eval answers` (question/answer data). Parsing and rendering only; the work is in eval/.
import type { Command } from "commander";
import { InfuseError } from "../../core/errors.js";
import { evaluateRetrievalConfigs, type RetrievalReport } from "../../eval/run-retrieval.js";
import { readRecipeFile } from "../../rag/recipe/recipe.js";
import { parseRecipeShorthand, SHORTHAND_BASES, SHORTHAND_TECHNIQUES } from "../../rag/recipe/shorthand.js";
import { positiveInt } from "./ask.js";
import { writeFile } from "node:fs/promises";
import { renderHtmlReport } from "../../eval/report-html.js";
import type { CommandRunner, RegisterCommand } from "../runtime.js";
import { registerEvalAnswers } from "./eval-answers.js";

interface RetrievalFlags {
  beir: string;
  split: string;
  retriever?: string[];
  recipe?: string[];
  limit?: number;
  embedder?: string;
  reranker?: string;
  llm?: string;
  topK: string;
  report?: string;
  fresh?: boolean;
}

export const registerEval: RegisterCommand = (program, run) => {
  const evalCmd = program.command("eval").description("measure retrieval and answer quality");
  registerEvalRetrieval(evalCmd, run);
  registerEvalAnswers(evalCmd, run);
};

function registerEvalRetrieval(evalCmd: Command, run: CommandRunner): void {
  evalCmd
    .command("retrieval")
    .description("score retriever configurations on BEIR-format data (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")
    .requiredOption("--beir <dir>", "BEIR data set folder")
    .option("--split <name>", "qrels split", "test")
    .option(
      "--retriever <configs...>",
      `recipes in shorthand: ${SHORTHAND_BASES.join("|")}, then +technique (${SHORTHAND_TECHNIQUES.join(", ")}); default bm25`,
    )
    .option("--recipe <file.json...>", "recipe files, compared with the --retriever ones (repeatable)")
    .option("--limit <n>", "evaluate only the first n queries (queries.jsonl order): a quick subset", positiveInt)
    .option(
      "--embedder <spec>",
      'embedding model for the corpus (default the built-in "hash-1024-unigram-stop", model-free)',
    )
    .option(
      "--reranker <model>",
      "what +rerank uses: a cross-encoder ONNX folder or hub reference, or llm (uses --llm)",
    )
    .option("--llm <spec>", "chat model for LLM techniques (+multiquery, +hyde, llm reranker)")
    .option("--top-k <n>", "documents retrieved per query", "100")
    .option("--report <file.html>", "also write an HTML report with a chart per metric")
    .option("--fresh", "ignore cached runs and retrieve again")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse eval retrieval --beir ./scifact\n" +
        "  infuse eval retrieval --beir ./scifact --retriever bm25 bm25+rm3 --report scifact.html\n" +
        "  infuse eval retrieval --beir ./scifact --embedder hf:BAAI/bge-small-en-v1.5 --retriever dense hybrid --json\n" +
        "  infuse eval retrieval --beir ./scifact --retriever bm25+rerank --reranker ./ms-marco-MiniLM-L-6-v2\n" +
        "  infuse eval retrieval --beir ./scifact --retriever bm25 --recipe mine.json --limit 50\n" +
        "\nA shorthand is a way to write a recipe (the same recipe `ask --recipe` takes); stages run in the\n" +
        "recipe's order (expansion, rerank, mmr, window, compression) whatever order they are written in.\n" +
        "The corpus is embedded once per embedder (kept as a collection in the data folder); each\n" +
        "recipe's run is cached, so an interrupted evaluation resumes where it stopped. Ctrl-C prints the\n" +
        "recipes already finished.",
    )
    .action(
      run(async (rt, flags: RetrievalFlags) => {
        const topK = Number(flags.topK);
        if (!Number.isInteger(topK) || topK < 1)
          throw new InfuseError("eval.top_k", `--top-k must be a positive integer, got "${flags.topK}"`, {
            kind: "usage",
            hint: "use --top-k 100 (recall@100 needs at least 100)",
          });
        const shorthands = (flags.retriever ?? (flags.recipe ? [] : ["bm25"]))
          .flatMap((r) => r.split(","))
          .filter(Boolean);
        const recipes = [
          ...shorthands.map((spec) => parseRecipeShorthand(spec, flags.reranker ? { reranker: flags.reranker } : {})),
          ...(await Promise.all((flags.recipe ?? []).map((file) => readRecipeFile(file)))),
        ];
        for (const r of recipes)
          if (r.collections)
            throw new InfuseError("eval.recipe_collections", "eval retrieval searches the BEIR corpus's collection", {
              kind: "usage",
              hint: "remove collections from the recipe file",
            });
        const progress = rt.out.progress();
        let report: RetrievalReport;
        try {
          report = await evaluateRetrievalConfigs({
            beir: flags.beir,
            split: flags.split,
            recipes,
            topK,
            ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
            config: await rt.config(),
            ...(flags.embedder ? { embedder: flags.embedder } : {}),
            ...(flags.llm ? { llm: flags.llm } : {}),
            fresh: flags.fresh === true,
            signal: rt.signal,
            onProgress: progress,
            onNote: (text) => rt.out.info(text),
          });
        } finally {
          progress.done();
        }
        if (flags.report) {
          await writeFile(flags.report, renderHtmlReport(report));
          rt.out.info(`report: ${flags.report}`);
        }
        rt.out.result(report, renderRetrieval);
        if (report.interrupted)
          throw new InfuseError(
            "cancelled",
            `interrupted: ${report.results.length} of ${recipes.length} recipes finished (shown above)`,
            { kind: "cancelled", hint: "run the same command again to resume: finished queries are cached" },
          );
      }),
    );
}

function renderRetrieval(r: RetrievalReport): string {
  const cols = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map"] as const;
  const width = Math.max(12, ...r.results.map((x) => x.retriever.length)) + 2;
  const header = "retriever".padEnd(width) + cols.map((c) => c.padStart(11)).join("") + "   ms/query";
  const rows = r.results.map(
    (x) =>
      x.retriever.padEnd(width) +
      cols.map((c) => x[c].toFixed(4).padStart(11)).join("") +
      (x.latencyMs ? x.latencyMs.mean.toFixed(1).padStart(11) : "   (cached)") +
      (x.compression ? `   ${(100 * x.compression.saving).toFixed(0)}% of tokens saved` : ""),
  );
  const subset = r.limit !== undefined ? ` (first ${r.limit})` : "";
  const stopped = r.interrupted ? ["(interrupted: the recipes above finished)"] : [];
  return [
    `${r.dataset} (${r.split}): ${r.queries} queries${subset}, ${r.documents} documents`,
    header,
    ...rows,
    ...stopped,
  ].join("\n");
}
