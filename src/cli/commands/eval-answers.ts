// `infuse eval answers DATA`: configurations side by side (each --llm in each --setting: closed-book,
// rag), scored by exact match, token F1, ROUGE-L, answer-embedding cosine, SQuAD v2's answerable and
// unanswerable split, latency per stage, and an optional LLM judge. Parsing and rendering only; the
// work is in eval/run-answers. Ctrl-C prints the configurations already finished.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { cancelledError, InfuseError } from "../../core/errors.js";
import { renderAnswersHtml } from "../../eval/report-html.js";
import {
  ANSWER_SETTINGS,
  DEFAULT_ANSWER_MAX_TOKENS,
  evaluateAnswers,
  type AnswerSetting,
  type AnswersConfiguration,
  type AnswersReport,
} from "../../eval/run-answers.js";
import { mergeRecipes, parseRecipeShorthand, readRecipeFile } from "../../rag/recipe/index.js";
import type { CommandRunner } from "../runtime.js";

interface AnswersFlags {
  collection?: string;
  embedder?: string;
  llm?: string[];
  adapter?: string;
  setting?: string[];
  maxTokens: string;
  judge?: boolean;
  judgeLlm?: string;
  retriever?: string;
  recipe?: string;
  topK?: string;
  limit?: string;
  questionField?: string;
  answerField?: string;
  contextField?: string;
  predictionField?: string;
  report?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function parseSettings(values: string[] | undefined): AnswerSetting[] | undefined {
  if (values === undefined) return undefined;
  const settings = values
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of settings) {
    if (!(ANSWER_SETTINGS as readonly string[]).includes(s))
      throw new InfuseError("eval.bad_setting", `--setting ${s} is not a setting`, {
        kind: "usage",
        hint: `use ${ANSWER_SETTINGS.join(", ")} (comma-separated for several)`,
      });
  }
  return settings as AnswerSetting[];
}

export function registerEvalAnswers(evalCmd: Command, run: CommandRunner): void {
  evalCmd
    .command("answers")
    .argument("<data>", "SQuAD JSON (v1 or v2), JSONL, JSON array or CSV with questions and reference answers")
    .description(
      "compare answers side by side: exact match, F1, ROUGE-L, cosine, unanswerable questions, latency, judge",
    )
    .option("--collection <name>", "answer from this collection (default: a collection of the data's own contexts)")
    .option(
      "--embedder <spec>",
      'embedder for the contexts and for answer cosine (default the collection\'s, else the built-in "hash-1024-unigram-stop")',
    )
    .option(
      "--llm <spec>",
      "a chat model that answers; repeat for one column each (a .gguf, a Hugging Face folder, engine:MODEL+ADAPTER, openai:M, ollama:M; none: extracted passages)",
      collect,
    )
    .option("--adapter <dir>", "a LoRA adapter from infuse tune, put on every --llm (runs in infuse's engine)")
    .option(
      "--setting <list>",
      `closed-book (the model alone) and/or rag (retrieved passages), comma-separated (default rag)`,
      collect,
    )
    .option("-n, --max-tokens <n>", "longest answer, in tokens", String(DEFAULT_ANSWER_MAX_TOKENS))
    .option("--judge", "grade faithfulness, relevance and coherence (1-5, with a reason) with the --llm model")
    .option("--judge-llm <spec>", "grade with this chat model instead (needed to compare several --llm)")
    .option(
      "--retriever <recipe>",
      "the rag setting's retrieval as a shorthand: bm25, dense, hybrid, bm25+rm3, hybrid+mmr… (as eval retrieval)",
    )
    .option(
      "--recipe <file>",
      "the rag setting's retrieval recipe as JSON (docs/recipes.md); --retriever and --top-k override it",
    )
    .option("--top-k <n>", "passages given to the model (default 5)")
    .option("--limit <n>", "only the first N questions")
    .option("--question-field <name>", "field or column holding the question")
    .option("--answer-field <name>", "field or column holding the reference answer(s)")
    .option("--context-field <name>", "field or column holding the context passage")
    .option("--prediction-field <name>", "field or column holding an answer to score as given")
    .option("--report <file.html>", "also write an HTML report")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse eval answers squad/dev-v2.0.json --limit 50\n" +
        "  infuse eval answers squad/dev-v2.0.json --llm ./qwen2.5-0.5b-instruct-q4_k_m.gguf --judge\n" +
        "  infuse eval answers qa.json --llm engine:base.gguf --llm engine:base.gguf+runs/tuned --setting closed-book,rag\n" +
        "  infuse eval answers finance.csv --context-field evidence_text --collection filings --llm ollama:llama3.1\n" +
        "  infuse eval answers predictions.jsonl --json   # rows with question, answers, prediction\n" +
        "\nUnanswerable questions (SQuAD v2 is_impossible, or an empty answer) score 1 when the answer\n" +
        'abstains (is empty or says it does not know, e.g. "I do not know"), else 0: the SQuAD v2 rule.',
    )
    .action(
      run(async (rt, data: string, flags: AnswersFlags) => {
        const int = (name: string, v: string | undefined) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1)
            throw new InfuseError("eval.bad_number", `--${name} must be a positive integer, got "${v}"`, {
              kind: "usage",
            });
          return n;
        };
        const fields = {
          ...(flags.questionField ? { question: flags.questionField } : {}),
          ...(flags.answerField ? { answer: flags.answerField } : {}),
          ...(flags.contextField ? { context: flags.contextField } : {}),
          ...(flags.predictionField ? { prediction: flags.predictionField } : {}),
        };
        const limit = int("limit", flags.limit);
        const settings = parseSettings(flags.setting);
        const progress = rt.out.progress();
        let report: AnswersReport;
        try {
          report = await evaluateAnswers({
            data,
            config: await rt.config(),
            fields,
            recipe: mergeRecipes(
              flags.retriever ? parseRecipeShorthand(flags.retriever) : undefined,
              flags.recipe ? await readRecipeFile(flags.recipe) : undefined,
              flags.topK !== undefined ? { top_k: int("top-k", flags.topK)! } : undefined,
            ),
            maxTokens: int("max-tokens", flags.maxTokens) ?? DEFAULT_ANSWER_MAX_TOKENS,
            ...(limit !== undefined ? { limit } : {}),
            ...(flags.collection ? { collection: flags.collection } : {}),
            ...(flags.embedder ? { embedder: flags.embedder } : {}),
            ...(flags.llm ? { llm: flags.llm } : {}),
            ...(flags.adapter ? { adapter: flags.adapter } : {}),
            ...(settings ? { settings } : {}),
            ...(flags.judgeLlm ? { judge: flags.judgeLlm } : flags.judge ? { judge: true } : {}),
            signal: rt.signal,
            onProgress: progress,
          });
        } finally {
          progress.done();
        }
        if (flags.report) {
          await writeFile(flags.report, renderAnswersHtml(report));
          rt.out.info(`report: ${flags.report}`);
        }
        rt.out.result(report, renderAnswers);
        if (report.interrupted) throw cancelledError("answer evaluation (the configurations above finished)");
      }),
    );
}

/** Metrics as rows, one column per configuration. */
function renderAnswers(r: AnswersReport): string {
  const head = [
    `${r.data}: ${r.items} questions${r.unanswerable > 0 ? ` (${r.unanswerable} unanswerable)` : ""}; embedder ${r.embedder}` +
      (r.interrupted ? "; interrupted: finished configurations only" : ""),
  ];
  const cs = r.configurations;
  const lines: [string, (c: AnswersConfiguration) => string][] = [
    ["answers", (c) => `${c.answers.generative} gen ${c.answers.extractive} ext ${c.answers.given} given`],
    ["exact match", (c) => f(c.exact_match)],
    ["F1", (c) => f(c.f1)],
    ["ROUGE-L", (c) => f(c.rouge_l)],
    ["cosine", (c) => f(c.cosine)],
  ];
  if (cs.some((c) => c.answer_in_context !== undefined))
    lines.push(["answer in passages", (c) => f(c.answer_in_context)]);
  if (r.unanswerable > 0) {
    lines.push(["answerable EM", (c) => f(c.has_answer?.exact_match)]);
    lines.push(["answerable F1", (c) => f(c.has_answer?.f1)]);
    lines.push(["unanswerable abstained", (c) => f(c.no_answer?.abstained)]);
  }
  for (const stage of [...new Set(cs.flatMap((c) => Object.keys(c.latencyMs)))])
    lines.push([`${stage} ms (mean)`, (c) => (c.latencyMs[stage] ? c.latencyMs[stage].mean.toFixed(1) : "–")]);
  for (const crit of ["faithfulness", "relevance", "coherence"] as const) {
    if (cs.some((c) => c.judge?.[crit]))
      lines.push([
        `judge ${crit}`,
        (c) => (c.judge?.[crit]?.mean == null ? "–" : `${c.judge[crit].mean.toFixed(2)}/5`),
      ]);
  }
  const cells = [["", ...cs.map((c) => c.name)], ...lines.map(([label, get]) => [label, ...cs.map(get)])];
  const widths = cells[0]!.map((_, j) => Math.max(...cells.map((row) => row[j]!.length)));
  const table = cells.map((row) =>
    row.map((v, j) => (j === 0 ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join("   "),
  );
  return [...head, ...table].join("\n");
}

const f = (v: number | undefined): string => (v === undefined ? "–" : v.toFixed(4));
