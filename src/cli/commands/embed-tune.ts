// `infuse embed tune MODEL --data PAIRS.jsonl --out DIR`: contrastive fine-tuning of a BERT-family
// encoder (train/embed does the work); with --eval-beir DIR the starting and the tuned model are
// scored side by side (dense and hybrid), and --dry-run counts pairs and steps without training.
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import { flagFields } from "../../core/option-schema.js";
import type { ProgressListener } from "../../core/progress.js";
import { checkEncoderFormats, type EncoderFormat } from "../../models/bert/export/index.js";
import { EmbedTuneOptionsSchema, type EmbedTuneOptions } from "../../train/embed/options.js";
import {
  planEmbedTune,
  tuneEmbedder,
  type EmbedTunePlan,
  type EmbedTuneResult,
  type EmbedTuneRunOptions,
} from "../../train/embed/tune.js";
import type { MetricLine } from "../../train/metrics.js";
import { progressLines } from "../../train/progress.js";
import type { Output } from "../output.js";
import type { RegisterCommand } from "../runtime.js";
import { cliFlags, flagOptions, flagValues } from "../schema-flags.js";
import { beforeAfter, beirEvaluator, type BeforeAfterRow } from "./embed-tune-eval.js";

/** The flags this command defines itself; every other flag is an EmbedTuneOptionsSchema field's. */
interface OwnFlags {
  data?: string[];
  val?: string[];
  out?: string;
  formats?: string;
  evalBeir?: string;
  evalSplit: string;
  evalLimit?: string;
  dryRun?: boolean;
}

const FIELD_FLAGS = cliFlags(flagFields(EmbedTuneOptionsSchema));

function toOptions(model: string, f: OwnFlags & Record<string, unknown>): EmbedTuneOptions {
  const o: Record<string, unknown> = { model, data: f.data ?? [], out: f.out ?? "" };
  Object.assign(o, flagValues(f, FIELD_FLAGS));
  if (f.val) o["valData"] = f.val;
  return o as EmbedTuneOptions;
}

const r3 = (x: number | null | undefined): string => (x === null || x === undefined ? "–" : x.toFixed(3));

function positiveInt(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new InfuseError("cli.bad_number", `${flag} must be a positive integer, got "${raw}"`, { kind: "usage" });
  return n;
}

export interface EmbedTuneReport extends EmbedTuneResult {
  beforeAfter?: BeforeAfterRow[];
}

function renderPlan(p: EmbedTunePlan): string {
  return [
    `pairs: ${p.trainPairs} train, ${p.valPairs} held out; ${p.shortOfNegatives} short of negatives (filled from other pairs)`,
    `steps: ${p.totalSteps} (${p.stepsPerEpoch} an epoch); ${p.textsPerStep} texts encoded a step`,
  ].join("\n");
}

function renderRows(rows: BeforeAfterRow[]): string[] {
  const lines = ["model   retriever  nDCG@10  R@10   R@100  MRR@10"];
  for (const r of rows) {
    const cells = [r["ndcg@10"], r["recall@10"], r["recall@100"], r["mrr@10"]].map((v) => v.toFixed(3).padEnd(6));
    lines.push(`${r.model.padEnd(7)} ${r.retriever.padEnd(10)} ${cells.join(" ")}`);
  }
  return lines;
}

function renderResult(r: EmbedTuneReport): string {
  const ev =
    r.firstEvalLoss !== null
      ? `; eval loss ${r3(r.firstEvalLoss)} → ${r3(r.lastEvalLoss)} (best ${r3(r.bestEvalLoss)})`
      : "";
  return [
    `${r.steps} steps${r.resumedFrom ? ` (resumed from ${r.resumedFrom})` : ""}${r.stoppedEarly ? ", stopped early" : ""}: loss ${r3(r.finalLoss)}${ev}`,
    `${r.trainPairs} training pairs, ${r.valPairs} held out; ${r.trainableParams} trainable parameters; ${r.pooling} pooling; ${r.seconds.toFixed(1)} s`,
    ...(r.beforeAfter ? renderRows(r.beforeAfter) : []),
    `tuned model: ${r.modelDir} (embed with --embedder engine:${r.modelDir})`,
    `wrote ${r.files.join(", ")}`,
  ].join("\n");
}

function progressFor(out: Output): ProgressListener & { done(): void } {
  if (process.stderr.isTTY) return out.progress();
  return Object.assign(
    progressLines((line) => out.info(line), { everySeconds: 30 }),
    { done() {} },
  );
}

export const registerEmbedTune: RegisterCommand = (program, run) => {
  const embed =
    program.commands.find((c) => c.name() === "embed") ??
    program.command("embed").description("embedding models: generate queries, mine negatives, fine-tune");
  const cmd = embed
    .command("tune")
    .argument("[model]", "the starting encoder: a BERT-family .gguf, or a Hugging Face / sentence-transformers folder")
    .description("fine-tune an embedding model on query/passage pairs (InfoNCE, hard and in-batch negatives)")
    .option("--data <files...>", "pairs files: JSONL {query, pos: [...], neg?: [...]} (embed queries / embed mine)")
    .option("--val <files...>", "held-out pairs (default: --val-fraction of --data)")
    .option("-o, --out <dir>", "output folder: model/, metrics.jsonl, loss.svg, checkpoints/")
    .option("--formats <list>", "also write the tuned model as gguf and/or onnx (st always): gguf,onnx")
    .option("--eval-beir <dir>", "score the starting and the tuned model on this BEIR folder (dense, hybrid)")
    .option("--eval-split <split>", "the BEIR split to score", "test")
    .option("--eval-limit <n>", "score only the first N queries of the split")
    .option("--dry-run", "read and count the pairs and the steps; do not train");
  for (const o of flagOptions(FIELD_FLAGS)) cmd.addOption(o);
  cmd
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse embed tune ./bge-small-en --data mined.jsonl --out ./bge-tuned --epochs 2 --lr 2e-5\n" +
        "  infuse embed tune model.gguf --data mined.jsonl --out ./tuned --lora --rank 16 --targets all-linear\n" +
        "  infuse embed tune ./minilm --data mined.jsonl --out ./tuned --batch-size 64 --grad-cache-chunk 16 --workers 2\n" +
        "  infuse embed tune ./minilm --data mined.jsonl --out ./tuned --eval-beir ./scifact --eval-split test\n" +
        "  infuse embed tune ./minilm --data mined.jsonl --out ./tuned --epochs 3 --resume   # extend a finished run\n" +
        "\nThe tuned encoder is written to OUT/model/ (a sentence-transformers folder); use it with\n" +
        "`infuse ingest --embedder engine:OUT/model`. Ctrl-C saves a checkpoint; --resume continues exactly.",
    )
    .action(
      run(async (rt, model: string | undefined, flags: OwnFlags & Record<string, unknown>) => {
        if (!model)
          throw new InfuseError("cli.model_required", "give the starting encoder", {
            kind: "usage",
            hint: "infuse embed tune MODEL --data PAIRS.jsonl --out DIR",
          });
        if (!flags.data?.length)
          throw new InfuseError("cli.data_required", "give --data PAIRS.jsonl", {
            kind: "usage",
            hint: "write pairs with `infuse embed queries` and `infuse embed mine`",
          });
        const options = toOptions(model, flags);
        if (flags.dryRun) {
          rt.out.result(await planEmbedTune(options), renderPlan);
          return;
        }
        if (!flags.out)
          throw new InfuseError("cli.out_required", "give --out DIR for the tuned model", { kind: "usage" });
        const formats: EncoderFormat[] = flags.formats ? checkEncoderFormats(flags.formats.split(",")) : [];
        const limit = positiveInt("--eval-limit", flags.evalLimit);
        const config = await rt.config();
        const progress = progressFor(rt.out);
        const onMetric = (m: MetricLine): void => {
          if (m.eval_loss === undefined) return;
          const extra = Object.entries(m)
            .filter(([k]) => k.startsWith("eval_") && k !== "eval_loss")
            .map(([k, v]) => `${k.slice(5)} ${r3(v as number)}`);
          rt.out.info(`step ${m.step}: loss ${r3(m.loss)} eval ${r3(m.eval_loss)} ${extra.join(" ")}`);
        };
        const runOptions: EmbedTuneRunOptions = {
          signal: rt.signal,
          onProgress: progress,
          onMetric,
          onWarning: (line) => rt.out.warn(line),
          formats,
        };
        let report: EmbedTuneReport;
        try {
          if (flags.evalBeir && Number(flags["evalEvery"] ?? 0) > 0) {
            runOptions.evaluator = await beirEvaluator(
              flags.evalBeir,
              flags.evalSplit,
              limit,
              { query: Number(flags["queryMaxLength"] ?? 64), passage: Number(flags["passageMaxLength"] ?? 256) },
              { query: String(flags["queryInstruction"] ?? ""), passage: String(flags["passageInstruction"] ?? "") },
            );
          }
          report = await tuneEmbedder(options, runOptions);
          if (flags.evalBeir) {
            report.beforeAfter = await beforeAfter(model, report.modelDir, {
              beir: flags.evalBeir,
              split: flags.evalSplit,
              limit,
              config,
              dir: path.join(report.out, "before-after"),
              signal: rt.signal,
              onProgress: progress,
            });
          }
        } finally {
          progress.done();
        }
        rt.out.result(report, renderResult);
      }),
    );
};
