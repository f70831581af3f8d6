// `infuse embed queries` and `infuse embed mine`: the training data of embedding fine-tuning (the
// library's generateQueries, qrelPairs and mineNegatives do the work). The `embed` group is found or
// made, so another module can add its own subcommands (`embed tune`) to the same group.
import type { Command } from "commander";
import { InfuseError } from "../../core/errors.js";
import { flagFields } from "../../core/option-schema.js";
import { loadBeir } from "../../eval/beir.js";
import {
  generateQueries,
  mineNegatives,
  MineOptionsSchema,
  qrelPairs,
  QueryOptionsSchema,
  writePairs,
  type CorpusInput,
  type GenerateQueriesResult,
  type MineResult,
  type QrelPairsResult,
} from "../../rag/embed-data/index.js";
import type { CommandRuntime, CommandRunner, RegisterCommand } from "../runtime.js";
import { cliFlags, flagOptions, flagValues } from "../schema-flags.js";

const QUERY_FLAGS = cliFlags(flagFields(QueryOptionsSchema));
const MINE_FLAGS = cliFlags(flagFields(MineOptionsSchema));

/** The `embed` command group, made once whichever module registers first. */
export function embedGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "embed") ??
    program
      .command("embed")
      .description("embedding fine-tuning: write queries for passages, mine hard negatives (and tune, where installed)")
  );
}

function corpusOf(f: { collection?: string; corpus?: string }): CorpusInput | undefined {
  if (f.collection !== undefined && f.corpus !== undefined)
    throw new InfuseError("cli.corpus_twice", "give --corpus FILE or --collection NAME, not both", { kind: "usage" });
  return f.collection !== undefined
    ? { collection: f.collection }
    : f.corpus !== undefined
      ? { file: f.corpus }
      : undefined;
}

function needOut(out: unknown, example: string): string {
  if (typeof out !== "string" || out === "")
    throw new InfuseError("cli.out_required", "give --out FILE for the pairs (JSONL)", {
      kind: "usage",
      hint: example,
    });
  return out;
}

function renderQueries(r: GenerateQueriesResult): string {
  const sources = Object.entries(r.sources)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  return [
    `${r.mode}: ${r.passages} passages${r.skipped ? ` (${r.skipped} already in ${r.out}: skipped)` : ""}; wrote ${r.queriesWritten} pairs${sources ? ` (${sources})` : ""} to ${r.out} in ${r.seconds.toFixed(1)} s`,
    ...(r.retried || r.malformed
      ? [`asked again ${r.retried} times; ${r.malformed} passages left without queries (malformed answers)`]
      : []),
    ...r.malformedExamples.map((m) => `  ${m.passage}: ${m.reason}: ${JSON.stringify(m.answer.slice(0, 80))}`),
    ...(r.unpaired ? [`${r.unpaired} passages gave no offline pair (no title, fewer than two sentences)`] : []),
  ].join("\n");
}

function renderQrels(r: QrelPairsResult & { out: string; split: string }): string {
  return [
    `${r.pairs.length} pairs from qrels/${r.split}.tsv written to ${r.out}`,
    ...(r.withoutPositive ? [`${r.withoutPositive} judged queries had no relevant document in the corpus`] : []),
  ].join("\n");
}

function renderMine(r: MineResult): string {
  const s = r.stats;
  const hist = Object.entries(s.negatives.histogram)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([n, q]) => `${n}:${q}`)
    .join(" ");
  return [
    `${s.queries} queries mined with ${s.retriever} over ranks ${s.range[0]}-${s.range[1]}${s.resumed ? ` (${s.resumed} resumed from ${r.out})` : ""} in ${s.seconds.toFixed(1)} s (collection ${s.collection}${s.embedded ? `, ${s.embedded} passages embedded` : ""})`,
    `candidates ${s.candidates}; dropped: ${s.droppedPositive} positives, ${s.droppedProbablePositive} probable positives${s.positiveNotScored ? `; ${s.positiveNotScored} queries' positives not in the corpus (not scored)` : ""}`,
    `negatives per query: min ${s.negatives.min}, mean ${s.negatives.mean}, max ${s.negatives.max} (count:queries ${hist})`,
    ...(s.short.queries
      ? [`${s.short.queries} queries short of negatives (${s.short.missing} missing; ${s.short.none} with none)`]
      : []),
    ...(r.out ? [`wrote ${r.out}`] : []),
  ].join("\n");
}

function registerQueries(group: Command, run: CommandRunner): void {
  const cmd = group
    .command("queries")
    .description(
      "write query–passage pairs (JSONL) for passages: with --llm, N queries each; without, title and inverse-cloze pairs",
    )
    .option("-o, --out <file>", "the pairs file to write (an existing one is resumed)")
    .option("--from-qrels <dir>", "instead: pairs from a BEIR folder's judged queries and their relevant documents")
    .option("--split <name>", "--from-qrels: the qrels split (train)", "train");
  for (const o of flagOptions(QUERY_FLAGS.filter((f) => f.meta.flag !== "--out"))) cmd.addOption(o);
  cmd
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse embed queries --corpus corpus.jsonl --out pairs.jsonl                 # offline: title + inverse cloze\n" +
        "  infuse embed queries --collection handbook --llm openai:gpt-4o-mini --per-passage 3 \\\n" +
        "      --concurrency 8 --out pairs.jsonl\n" +
        "  infuse embed queries --corpus docs.jsonl --llm qwen2.5-1.5b-instruct.gguf --prompt my-prompt.txt --out pairs.jsonl\n" +
        "  infuse embed queries --from-qrels datasets/scifact --split train --out train-pairs.jsonl\n" +
        "\nThe prompt is a text file with {passage}, {n} and {title}; the model must answer one JSON object\n" +
        '{"query": [...], "positive": [...]}. Malformed answers are asked again (--retries) and then counted.\n' +
        "Running again with the same --out skips the passages already done.",
    )
    .action(
      run(async (rt, flags: Record<string, unknown> & { fromQrels?: string; split: string }) => {
        const out = needOut(flags["out"], "infuse embed queries --corpus corpus.jsonl --out pairs.jsonl");
        if (flags.fromQrels !== undefined) return qrelsToPairs(rt, flags.fromQrels, flags.split, out);
        const o = flagValues(flags, QUERY_FLAGS) as Record<string, unknown>;
        const corpus = corpusOf(o);
        if (!corpus)
          throw new InfuseError("cli.corpus_required", "give the passages: --corpus FILE or --collection NAME", {
            kind: "usage",
            hint: "infuse embed queries --corpus corpus.jsonl --out pairs.jsonl",
          });
        const { collection: _c, corpus: _f, ...rest } = o;
        const progress = rt.out.progress();
        try {
          const r = await generateQueries(corpus, {
            ...rest,
            out,
            config: await rt.config(),
            signal: rt.signal,
            onProgress: progress,
          });
          progress.done();
          if (r.malformed > 0)
            rt.out.warn(`${r.malformed} passages got no well-formed answer (see malformed_examples)`);
          rt.out.result(r, renderQueries);
        } finally {
          progress.done();
        }
      }),
    );
}

async function qrelsToPairs(rt: CommandRuntime, dir: string, split: string, out: string): Promise<void> {
  const beir = await loadBeir(dir, { split });
  const r = qrelPairs(beir);
  await writePairs(out, r.pairs);
  rt.out.result(
    { ...r, pairs: r.pairs.length, out, split },
    (v: { pairs: number; out: string; split: string; withoutPositive: number }) =>
      renderQrels({ ...v, pairs: r.pairs, missingDocs: r.missingDocs }),
  );
}

function registerMine(group: Command, run: CommandRunner): void {
  const cmd = group
    .command("mine")
    .argument("<pairs>", "the pairs file (JSONL: query, pos[])")
    .description("mine hard negatives for every pair from a retriever's ranking, dropping probable positives")
    .option("-o, --out <file>", "the pairs file with negatives to write (an existing one is resumed)");
  for (const o of flagOptions(MINE_FLAGS.filter((f) => f.meta.flag !== "--out"))) cmd.addOption(o);
  cmd
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse embed mine pairs.jsonl --corpus corpus.jsonl --out mined.jsonl               # bm25, ranks 2-200, 15 negatives\n" +
        "  infuse embed mine pairs.jsonl --collection handbook --retriever hybrid --range 10-100 --out mined.jsonl\n" +
        "  infuse embed mine pairs.jsonl --corpus corpus.jsonl --retriever dense --embedder ./bge-small \\\n" +
        "      --max-relative 0.9 --margin 0.02 --negatives 7 --out mined.jsonl\n" +
        "  infuse embed mine pairs.jsonl --candidate-pool pool.jsonl --reranker ./bge-reranker-base --out mined.jsonl\n" +
        "\nWithout --corpus/--collection the pairs' own positives are the pool. A candidate equal to a\n" +
        "positive (id or text) is always dropped; one scoring above --max-relative × the positive's score\n" +
        "(or within --margin of it) is dropped as a probable positive. Scores: the reranker's, else BM25's\n" +
        "(bm25) or cosine similarity (dense, hybrid).",
    )
    .action(
      run(async (rt, pairs: string, flags: Record<string, unknown>) => {
        const out = needOut(flags["out"], "infuse embed mine pairs.jsonl --corpus corpus.jsonl --out mined.jsonl");
        const o = flagValues(flags, MINE_FLAGS) as Record<string, unknown>;
        const corpus = corpusOf(o);
        const { collection: _c, corpus: _f, ...rest } = o;
        const progress = rt.out.progress();
        try {
          const r = await mineNegatives(pairs, {
            ...rest,
            ...(corpus ? { corpus } : {}),
            out,
            config: await rt.config(),
            signal: rt.signal,
            onProgress: progress,
          });
          progress.done();
          rt.out.result({ out: r.out, stats: r.stats }, (v: { out?: string; stats: MineResult["stats"] }) =>
            renderMine({ pairs: [], ...v } as MineResult),
          );
        } finally {
          progress.done();
        }
      }),
    );
}

export const registerEmbed: RegisterCommand = (program, run) => {
  const group = embedGroup(program);
  registerQueries(group, run);
  registerMine(group, run);
};
