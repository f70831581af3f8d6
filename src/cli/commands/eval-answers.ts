// `infuse eval answers DATA`: exact match, token F1, ROUGE-L, answer-embedding cosine, latency per
// stage, and an optional LLM judge. Parsing and rendering only; the work is in eval/run-answers.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { InfuseError } from "../../core/errors.js";
import { renderMetricsHtml } from "../../eval/report-html.js";
import { evaluateAnswers, type AnswersReport } from "../../eval/run-answers.js";
import type { RetrievalMode } from "../../rag/retrieve/index.js";
import type { CommandRunner } from "../runtime.js";

interface AnswersFlags {
  collection?: string;
  embedder?: string;
  llm?: string;
  judge?: boolean;
  judgeLlm?: string;
  retriever?: string;
  topK: string;
  limit?: string;
  questionField?: string;
  answerField?: string;
  contextField?: string;
  predictionField?: string;
  report?: string;
}

export function registerEvalAnswers(evalCmd: Command, run: CommandRunner): void {
  evalCmd
    .command("answers")
    .argument("<data>", "SQuAD JSON, JSONL, JSON array or CSV with questions and reference answers")
    .description("score answers: exact match, token F1, ROUGE-L, embedding cosine, latency, optional LLM judge")
    .option("--collection <name>", "answer from this collection (default: a collection of the data's own contexts)")
    .option(
      "--embedder <spec>",
      'embedder for the contexts and for answer cosine (default the collection\'s, else "hash")',
    )
    .option("--llm <spec>", "chat model that answers (without one, answers are the best extracted passages)")
    .option("--judge", "grade faithfulness, relevance and coherence (1-5, with a reason) with the --llm model")
    .option("--judge-llm <spec>", "grade with this chat model instead")
    .option("--retriever <mode>", "bm25, dense or hybrid")
    .option("--top-k <n>", "passages given to the model", "5")
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
        "  infuse eval answers finance.csv --context-field evidence_text --collection filings --llm ollama:llama3.1\n" +
        "  infuse eval answers predictions.jsonl --json   # rows with question, answers, prediction",
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
        const progress = rt.out.progress();
        let report: AnswersReport;
        try {
          report = await evaluateAnswers({
            data,
            config: await rt.config(),
            fields,
            topK: int("top-k", flags.topK) ?? 5,
            ...(limit !== undefined ? { limit } : {}),
            ...(flags.collection ? { collection: flags.collection } : {}),
            ...(flags.embedder ? { embedder: flags.embedder } : {}),
            ...(flags.llm ? { llm: flags.llm } : {}),
            ...(flags.judgeLlm ? { judge: flags.judgeLlm } : flags.judge ? { judge: true } : {}),
            ...(flags.retriever ? { retriever: flags.retriever as RetrievalMode } : {}),
            signal: rt.signal,
            onProgress: progress,
          });
        } finally {
          progress.done();
        }
        if (flags.report) {
          await writeFile(flags.report, answersHtml(report));
          rt.out.info(`report: ${flags.report}`);
        }
        rt.out.result(report, renderAnswers);
      }),
    );
}

function answersHtml(r: AnswersReport): string {
  const judged = r.judge ? (["faithfulness", "relevance", "coherence"] as const) : [];
  return renderMetricsHtml({
    title: `Answer evaluation: ${r.data}`,
    notes: [
      `${r.items} questions; answers ${r.answers.given} given, ${r.answers.generative} generated, ${r.answers.extractive} extracted`,
      `embedder ${r.embedder}${r.llm ? `, LLM ${r.llm}` : ""}${r.judge ? `, judge ${r.judge.model}` : ""}`,
    ],
    metrics: ["exact_match", "f1", "rouge_l", "cosine", "answer_in_context", ...judged],
    rows: [
      {
        name: r.llm ?? (r.answers.given === r.items ? "given answers" : "extractive"),
        values: {
          exact_match: r.exact_match,
          f1: r.f1,
          rouge_l: r.rouge_l,
          cosine: r.cosine,
          answer_in_context: r.answer_in_context,
          ...Object.fromEntries(judged.map((c) => [c, r.judge?.[c]?.mean ?? undefined])),
        },
      },
    ],
  });
}

function renderAnswers(r: AnswersReport): string {
  const lines = [
    `${r.data}: ${r.items} questions (answers: ${r.answers.given} given, ${r.answers.generative} generated, ${r.answers.extractive} extracted)`,
    `exact match ${r.exact_match.toFixed(4)}   F1 ${r.f1.toFixed(4)}   ROUGE-L ${r.rouge_l.toFixed(4)}   cosine ${r.cosine.toFixed(4)} (${r.embedder})`,
  ];
  if (r.answer_in_context !== undefined)
    lines.push(`reference answer found in the retrieved passages: ${r.answer_in_context.toFixed(4)}`);
  for (const [stage, l] of Object.entries(r.latencyMs))
    lines.push(`latency ${stage.padEnd(9)} mean ${l.mean.toFixed(1)} ms   p95 ${l.p95.toFixed(1)} ms`);
  if (r.judge) {
    for (const c of ["faithfulness", "relevance", "coherence"] as const) {
      const j = r.judge[c];
      if (j)
        lines.push(`judge ${c.padEnd(13)} ${j.mean === null ? "–" : j.mean.toFixed(2)} / 5   (${j.unparsed} unparsed)`);
    }
  }
  return lines.join("\n");
}
