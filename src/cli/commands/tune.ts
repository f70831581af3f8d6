// `infuse tune MODEL --data FILE --out DIR`: LoRA/QLoRA fine-tuning (train/tune.ts does the work), with
// --dry-run for counts, token lengths and 3 rendered examples; `infuse tune merge` writes a merged GGUF.
import path from "node:path";
import type { Command } from "commander";
import { configSection } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import {
  skippedSummary,
  type ColumnMap,
  type DatasetFormat,
  type DatasetSource,
  type SkipReport,
} from "../../train/data/records.js";
import { checkExportQuant, exportModel } from "../../train/export/export.js";
import { mergeAdapter, type MergeResult } from "../../train/merge.js";
import { renderExport } from "./export.js";
import type { MetricLine } from "../../train/metrics.js";
import { TuneConfigSchema, TuneOptionsSchema, type TuneConfig, type TuneOptions } from "../../train/options.js";
import { dryRunTune, tune, type DryRunReport, type TuneResult } from "../../train/tune.js";
import { flagFields } from "../../core/option-schema.js";
import type { ProgressListener } from "../../core/progress.js";
import { formatDuration, progressLines } from "../../train/progress.js";
import type { Output } from "../output.js";
import type { CommandRunner, RegisterCommand } from "../runtime.js";
import { cliFlags, flagOptions, flagValues } from "../schema-flags.js";

/** The flags this command defines itself; every other flag is a TuneOptionsSchema field's. */
interface DataFlags {
  data: string[];
  val?: string[];
  out?: string;
  format: string;
  instructionColumn?: string;
  inputColumn?: string;
  outputColumn?: string;
  systemColumn?: string;
  dryRun?: boolean;
  progressEvery?: string;
  estimateSteps?: string;
}

const FIELD_FLAGS = cliFlags(flagFields(TuneOptionsSchema));

/** Flags → TuneOptions over the config file's `tune` defaults; tune() validates the result. */
function toOptions(model: string, f: DataFlags & Record<string, unknown>, defaults: TuneConfig = {}): TuneOptions {
  const columns: ColumnMap = {};
  if (f.instructionColumn) columns.instruction = f.instructionColumn;
  if (f.inputColumn) columns.input = f.inputColumn;
  if (f.outputColumn) columns.output = f.outputColumn;
  if (f.systemColumn) columns.system = f.systemColumn;
  const formats = ["auto", "alpaca", "chat", "csv", "text"];
  if (!formats.includes(f.format)) {
    throw new InfuseError("cli.bad_format", `--format must be one of ${formats.join(", ")}, got "${f.format}"`, {
      kind: "usage",
    });
  }
  const source = (p: string): DatasetSource => ({ path: p, format: f.format as DatasetFormat, columns });
  const o: Record<string, unknown> = { model, data: f.data.map(source), out: f.out ?? "", ...defaults };
  Object.assign(o, flagValues(f, FIELD_FLAGS));
  if (f.val) o["valData"] = f.val.map(source);
  return o as TuneOptions;
}

const r3 = (x: number | null | undefined): number | null =>
  x === null || x === undefined ? null : Math.round(x * 1000) / 1000;

function renderDryRun(r: DryRunReport): string {
  const t = r.tokens;
  const e = r.estimate;
  const time = e
    ? `; about ${formatDuration(e.totalSeconds)} in one thread (${e.secondsPerStep.toFixed(2)} s a step measured over ${e.measuredSteps}` +
      (e.evaluations > 0 ? `, ${e.evaluations} evaluations of ${e.secondsPerEvaluation.toFixed(1)} s` : "") +
      ")"
    : "";
  const lines = [
    ...r.columns,
    `template ${r.template}; records: ${r.records.train} train${r.records.val !== null ? `, ${r.records.val} validation` : ""}`,
    `examples: ${r.examples.train} train, ${r.examples.val} validation; truncated to ${r.maxLength} tokens: ${r.truncated}; dropped (nothing to learn): ${r.dropped}`,
    `tokens per record: min ${t.min}, mean ${t.mean}, median ${t.p50}, p95 ${t.p95}, max ${t.max}; learned tokens ${r.learnedTokens}`,
    `steps: ${r.steps.total} (${r.steps.perEpoch} an epoch)${time}`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  if (r.skipped.count > 0) lines.splice(1, 0, skippedSummary(r.skipped));
  r.samples.forEach((s, i) =>
    lines.push(
      `\n--- example ${i + 1} (${s.tokens} tokens, ${s.learnedTokens} learned${s.cutTokens ? `, ${s.cutTokens} cut` : ""}) ---\n${s.text}\n--- learned ---\n${s.learned}`,
    ),
  );
  return lines.join("\n");
}

function renderResult(r: TuneResult): string {
  const ev =
    r.firstEvalLoss !== null
      ? `; eval loss ${r3(r.firstEvalLoss)} → ${r3(r.lastEvalLoss)} (best ${r3(r.bestEvalLoss)})`
      : "";
  return [
    `${r.steps} steps${r.resumedFrom ? ` (resumed from ${r.resumedFrom})` : ""}${r.stoppedEarly ? ", stopped early" : ""}: loss ${r3(r.finalLoss)}${ev}`,
    `${r.tokens} tokens in ${r.seconds.toFixed(1)} s (${r.tokensPerSecond.toFixed(0)} tokens/s of training; evaluation took ${r.evalSeconds.toFixed(1)} s); ${r.trainableParams} trainable parameters; base ${r.baseDtype}`,
    ...(r.skipped.count > 0 ? [skippedSummary(r.skipped)] : []),
    `wrote ${r.files.join(", ")}`,
  ].join("\n");
}

/**
 * Bars on a terminal; without one (nohup, CI) a line at least every `every` seconds (and every tenth
 * of the run) on stdout, so a log shows the run is alive, where it is and its ETA.
 */
function progressFor(out: Output, every: string | undefined): ProgressListener & { done(): void } {
  const seconds = every === undefined ? 30 : Number(every);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new InfuseError("cli.bad_number", `--progress-every must be a number of seconds ≥ 0, got "${every}"`, {
      kind: "usage",
    });
  }
  if (process.stderr.isTTY) return out.progress();
  return Object.assign(
    progressLines((line) => out.info(line), { everySeconds: seconds }),
    { done() {} },
  );
}

export const registerTune: RegisterCommand = (program, run) => {
  const cmd = program
    .command("tune")
    .argument("[model]", "base model: a .gguf file, a Hugging Face folder (safetensors), or hf:owner/repo[/file]")
    .description("fine-tune a LoRA (or QLoRA) adapter on your data; `tune merge` folds one into a GGUF")
    .option("--data <files...>", "training data: Alpaca JSON/JSONL, chat JSONL (messages), CSV, or text")
    .option("--val <files...>", "validation data (default: --val-fraction of --data held out by seed)")
    .option("-o, --out <dir>", "output folder (adapter, metrics, checkpoints)")
    .option("--format <f>", "auto|alpaca|chat|csv|text", "auto")
    .option("--instruction-column <name>", "field holding the instruction/question (default instruction)")
    .option("--input-column <name>", "field holding extra context (default input)")
    .option("--output-column <name>", "field holding the response (default output)")
    .option("--system-column <name>", "field holding a system message")
    .option(
      "--dry-run",
      "print record counts, token lengths, warnings, the step count, a time estimate (2 measured steps) and rendered examples; do not train",
    )
    .option("--estimate-steps <n>", "--dry-run: steps to time for the estimate (1; 0 = none)")
    .option(
      "--progress-every <seconds>",
      "without a terminal (nohup, CI): a progress line at least every N seconds and every tenth of the run (30)",
    );
  for (const o of flagOptions(FIELD_FLAGS)) cmd.addOption(o);
  cmd
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse tune stories260K.gguf --data facts.jsonl --out ./adapter --max-steps 200 --lr 1e-3\n" +
        "  infuse tune ./tinyllama --data qa.csv --instruction-column question --input-column evidence_text \\\n" +
        "      --output-column answer --template chatml --quantize nf4 --out ./qlora --eval-every 50\n" +
        "  infuse tune model.gguf --data notes.txt --format text --max-length 256 --out ./cpt --dry-run\n" +
        "  infuse tune merge model.gguf ./adapter --out merged.gguf [--quantize q4_k_m]\n" +
        "  infuse tune model.gguf --data qa.jsonl --out ./adapter --epochs 3 --resume   # extend a finished run\n" +
        "\nThe output folder holds adapter_config.json + adapter_model.safetensors (PEFT), adapter.gguf\n" +
        "(llama.cpp/Ollama LoRA), metrics.jsonl, loss.svg and tune-config.json. Ctrl-C saves a checkpoint;\n" +
        "--resume continues from it exactly as an uninterrupted run would have. Defaults for the training\n" +
        'flags can live in infuse.config.json as a "tune" section ({"tune": {"rank": 16, "lr": 1e-4}}).',
    )
    .action(
      run(async (rt, model: string | undefined, flags: DataFlags & Record<string, unknown>) => {
        if (!model)
          throw new InfuseError("cli.model_required", "give the base model", {
            kind: "usage",
            hint: "infuse tune MODEL --data FILE --out DIR",
          });
        if (!flags.data?.length) throw new InfuseError("cli.data_required", "give --data FILE", { kind: "usage" });
        const config = await rt.config();
        if (flags.dryRun) {
          const measureSteps = flags.estimateSteps === undefined ? 1 : Number(flags.estimateSteps);
          if (!Number.isInteger(measureSteps) || measureSteps < 0) {
            throw new InfuseError(
              "cli.bad_number",
              `--estimate-steps must be an integer ≥ 0, got "${flags.estimateSteps}"`,
              {
                kind: "usage",
              },
            );
          }
          const report = await dryRunTune(toOptions(model, flags, configSection(config, "tune", TuneConfigSchema)), {
            config,
            signal: rt.signal,
            measureSteps,
          });
          rt.out.result(report, renderDryRun);
          return;
        }
        if (!flags.out) throw new InfuseError("cli.out_required", "give --out DIR for the adapter", { kind: "usage" });
        const progress = progressFor(rt.out, flags.progressEvery);
        const onMetric = (m: MetricLine): void => {
          if (m.eval_loss !== undefined) rt.out.info(`step ${m.step}: loss ${r3(m.loss)} eval ${r3(m.eval_loss)}`);
        };
        const onSkipped = (s: SkipReport): void => rt.out.warn(skippedSummary(s));
        const onWarning = (line: string): void => rt.out.warn(line);
        const onInfo = (line: string): void => rt.out.info(line);
        let result: TuneResult;
        try {
          const run = { config, signal: rt.signal, onProgress: progress, onMetric, onSkipped, onWarning, onInfo };
          result = await tune(toOptions(model, flags, configSection(config, "tune", TuneConfigSchema)), run);
        } finally {
          progress.done();
        }
        rt.out.result(result, renderResult);
      }),
    );
  registerMerge(cmd, run);
};

function registerMerge(cmd: Command, run: CommandRunner): void {
  cmd
    .command("merge")
    .argument("<base>", "the base model the adapter was trained on (.gguf or HF folder)")
    .argument("<adapter>", "adapter folder (adapter_config.json + adapter_model.safetensors)")
    .description("write a GGUF with the adapter folded into the base weights (-o, --out FILE.gguf)")
    .option("-o, --out <file>", "the merged model to write (FILE.gguf)")
    .option(
      "--quantize <type>",
      "write it quantized (q8_0|q4_0|q4_k_m|q5_k_m|q6_k|f16, mixed as llama.cpp does) with an Ollama Modelfile beside it",
    )
    .action(
      run(async (rt, base: string, adapter: string, own: { out?: string; quantize?: string }) => {
        // --out and --quantize are also `tune` options: commander may hand them to the parent, so read both.
        const parent = cmd.opts<{ out?: string; quantize?: string }>();
        const out = own.out ?? parent.out;
        const quantize = own.quantize ?? parent.quantize;
        if (!out)
          throw new InfuseError("cli.out_required", "give --out FILE.gguf for the merged model", { kind: "usage" });
        if (quantize !== undefined) {
          const name = path.basename(out);
          const r = await exportModel(base, {
            adapter,
            quantize: checkExportQuant(quantize),
            out: path.dirname(out),
            name,
            signal: rt.signal,
          });
          rt.out.result(r, renderExport);
          return;
        }
        const result = await mergeAdapter(base, adapter, out, { signal: rt.signal });
        rt.out.result(
          result,
          (r: MergeResult) =>
            `merged ${r.merged} adapted tensors into ${r.out} (${r.tensors} tensors)${r.widened.length ? `; written as F32: ${r.widened.join(", ")}` : ""}`,
        );
      }),
    );
}
