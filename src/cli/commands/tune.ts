// `infuse tune MODEL --data FILE --out DIR`: LoRA/QLoRA fine-tuning (train/tune.ts does the work), with
// --dry-run for counts, token lengths and 3 rendered examples; `infuse tune merge` writes a merged GGUF.
import type { Command } from "commander";
import { InfuseError } from "../../core/errors.js";
import {
  skippedSummary,
  type ColumnMap,
  type DatasetFormat,
  type DatasetSource,
  type SkipReport,
} from "../../train/data/records.js";
import { mergeAdapter, type MergeResult } from "../../train/merge.js";
import type { MetricLine } from "../../train/metrics.js";
import type { BaseQuant, TuneOptions } from "../../train/options.js";
import { dryRunTune, tune, type DryRunReport, type TuneResult } from "../../train/tune.js";
import type { CommandRunner, RegisterCommand } from "../runtime.js";

interface TuneFlags {
  data: string[];
  val?: string[];
  out?: string;
  format: string;
  instructionColumn?: string;
  inputColumn?: string;
  outputColumn?: string;
  systemColumn?: string;
  skipBadRecords?: boolean;
  template?: string;
  trainOnPrompt?: boolean;
  pack?: boolean;
  maxLength?: string;
  valFraction?: string;
  rank?: string;
  alpha?: string;
  dropout?: string;
  targets?: string;
  rslora?: boolean;
  quantize?: string;
  lr?: string;
  schedule?: string;
  warmup?: string;
  weightDecay?: string;
  epochs?: string;
  maxSteps?: string;
  batchSize?: string;
  maxTokens?: string;
  gradAccum?: string;
  clip?: string;
  seed?: string;
  evalEvery?: string;
  patience?: string;
  saveEvery?: string;
  resume?: boolean;
  workers?: string;
  gradientCheckpointing?: boolean;
  dryRun?: boolean;
}

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new InfuseError("cli.bad_number", `--${flag} must be a number, got "${value}"`, { kind: "usage" });
  }
  return n;
}

function toOptions(model: string, f: TuneFlags): TuneOptions {
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
  const o: Record<string, unknown> = {
    model,
    data: f.data.map(source),
    out: f.out ?? "",
    skipBadRecords: f.skipBadRecords,
    template: f.template,
    trainOnPrompt: f.trainOnPrompt,
    pack: f.pack,
    maxLength: num("max-length", f.maxLength),
    valFraction: num("val-fraction", f.valFraction),
    rank: num("rank", f.rank),
    alpha: num("alpha", f.alpha),
    dropout: num("dropout", f.dropout),
    targets: f.targets
      ?.split(",")
      .map((t) => t.trim())
      .filter(Boolean),
    rslora: f.rslora,
    quantize: f.quantize as BaseQuant | undefined,
    lr: num("lr", f.lr),
    schedule: f.schedule,
    warmupSteps: num("warmup", f.warmup),
    weightDecay: num("weight-decay", f.weightDecay),
    epochs: num("epochs", f.epochs),
    maxSteps: num("max-steps", f.maxSteps),
    batchSize: num("batch-size", f.batchSize),
    maxTokens: num("max-tokens", f.maxTokens),
    gradAccum: num("grad-accum", f.gradAccum),
    clip: num("clip", f.clip),
    seed: num("seed", f.seed),
    evalEvery: num("eval-every", f.evalEvery),
    patience: num("patience", f.patience),
    saveEvery: num("save-every", f.saveEvery),
    resume: f.resume,
    workers: num("workers", f.workers),
    gradientCheckpointing: f.gradientCheckpointing,
  };
  if (f.val) o["valData"] = f.val.map(source);
  return o as unknown as TuneOptions;
}

const r3 = (x: number | null | undefined): number | null =>
  x === null || x === undefined ? null : Math.round(x * 1000) / 1000;

function renderDryRun(r: DryRunReport): string {
  const t = r.tokens;
  const lines = [
    `template ${r.template}; records: ${r.records.train} train${r.records.val !== null ? `, ${r.records.val} validation` : ""}`,
    `examples: ${r.examples.train} train, ${r.examples.val} validation; truncated to ${r.maxLength} tokens: ${r.truncated}; dropped (nothing to learn): ${r.dropped}`,
    `tokens per record: min ${t.min}, mean ${t.mean}, median ${t.p50}, p95 ${t.p95}, max ${t.max}; learned tokens ${r.learnedTokens}`,
  ];
  if (r.skipped.count > 0) lines.splice(1, 0, skippedSummary(r.skipped));
  r.samples.forEach((s, i) =>
    lines.push(
      `\n--- example ${i + 1} (${s.tokens} tokens, ${s.learnedTokens} learned) ---\n${s.text}\n--- learned ---\n${s.learned}`,
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
    `${r.tokens} tokens in ${r.seconds.toFixed(1)} s (${(r.tokens / Math.max(r.seconds, 1e-9)).toFixed(0)} tokens/s); ${r.trainableParams} trainable parameters; base ${r.baseDtype}`,
    ...(r.skipped.count > 0 ? [skippedSummary(r.skipped)] : []),
    `wrote ${r.files.join(", ")}`,
  ].join("\n");
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
      "--skip-bad-records",
      "skip malformed records (bad JSON line, missing or mistyped field, CSV row of the wrong width) and report them; default: stop at the first",
    )
    .option("--template <t>", "auto (model's chat template, else alpaca)|model|alpaca|llama2|chatml|none|FILE")
    .option("--train-on-prompt", "take the loss on prompt tokens too (default: responses only)")
    .option("--pack", "pack several examples into each sequence (each still attends only to itself)")
    .option("--max-length <n>", "tokens per sequence; longer records are truncated and counted (512)")
    .option("--val-fraction <f>", "held-out share when no --val is given (0.1)")
    .option("-r, --rank <n>", "LoRA rank (8)")
    .option("--alpha <a>", "LoRA alpha (16)")
    .option("--dropout <p>", "LoRA dropout (0.05)")
    .option("--targets <list>", "comma-separated modules: q_proj,v_proj (default), all-linear, attn_q, globs")
    .option("--rslora", "scale by alpha/√r (rank-stabilised LoRA)")
    .option("--quantize <type>", "QLoRA: quantize the frozen base on load: q8_0|q4_0|nf4")
    .option("--lr <lr>", "peak learning rate (2e-4)")
    .option("--schedule <s>", "cosine|linear|constant (cosine)")
    .option("--warmup <steps>", "warmup steps (0)")
    .option("--weight-decay <w>", "AdamW weight decay (0)")
    .option("--epochs <n>", "passes over the data (1)")
    .option("--max-steps <n>", "stop after this many optimizer steps")
    .option("-b, --batch-size <n>", "sequences per micro-batch (4)")
    .option("--max-tokens <n>", "padded tokens per micro-batch at most")
    .option("--grad-accum <n>", "micro-batches per optimizer step (1)")
    .option("--clip <norm>", "max gradient norm, 0 = off (1)")
    .option("--seed <n>", "seed for split, shuffling, init and dropout (0)")
    .option("--eval-every <n>", "validation loss every N steps (0 = at the end)")
    .option("--patience <n>", "stop after N evaluations without improvement (0 = never)")
    .option("--save-every <n>", "checkpoint every N steps (Ctrl-C always saves one)")
    .option("--resume", "continue from the newest checkpoint in --out")
    .option("--workers <n>", "data-parallel worker threads (1)")
    .option(
      "--gradient-checkpointing",
      "recompute blocks in backward: less memory, ~1/3 more compute (default with --quantize)",
    )
    .option("--no-gradient-checkpointing", "keep every block's activations (the default without --quantize)")
    .option("--dry-run", "print record counts, token lengths and 3 rendered examples; do not train")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse tune stories260K.gguf --data facts.jsonl --out ./adapter --max-steps 200 --lr 1e-3\n" +
        "  infuse tune ./tinyllama --data qa.csv --instruction-column question --input-column evidence_text \\\n" +
        "      --output-column answer --template chatml --quantize nf4 --out ./qlora --eval-every 50\n" +
        "  infuse tune model.gguf --data notes.txt --format text --max-length 256 --out ./cpt --dry-run\n" +
        "  infuse tune merge model.gguf ./adapter --out merged.gguf\n" +
        "\nThe output folder holds adapter_config.json + adapter_model.safetensors (PEFT), adapter.gguf\n" +
        "(llama.cpp/Ollama LoRA), metrics.jsonl, loss.svg and tune-config.json. Ctrl-C saves a checkpoint;\n" +
        "--resume continues from it exactly as an uninterrupted run would have.",
    )
    .action(
      run(async (rt, model: string | undefined, flags: TuneFlags) => {
        if (!model)
          throw new InfuseError("cli.model_required", "give the base model", {
            kind: "usage",
            hint: "infuse tune MODEL --data FILE --out DIR",
          });
        if (!flags.data?.length) throw new InfuseError("cli.data_required", "give --data FILE", { kind: "usage" });
        const config = await rt.config();
        if (flags.dryRun) {
          const report = await dryRunTune(toOptions(model, flags), { config, signal: rt.signal });
          rt.out.result(report, renderDryRun);
          return;
        }
        if (!flags.out) throw new InfuseError("cli.out_required", "give --out DIR for the adapter", { kind: "usage" });
        const progress = rt.out.progress();
        const onMetric = (m: MetricLine): void => {
          if (m.eval_loss !== undefined) rt.out.info(`step ${m.step}: loss ${r3(m.loss)} eval ${r3(m.eval_loss)}`);
        };
        const onSkipped = (s: SkipReport): void => rt.out.warn(skippedSummary(s));
        let result: TuneResult;
        try {
          const run = { config, signal: rt.signal, onProgress: progress, onMetric, onSkipped };
          result = await tune(toOptions(model, flags), run);
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
    .action(
      run(async (rt, base: string, adapter: string) => {
        // --out is also a `tune` option, so commander hands it to the parent: read it from there.
        const out = cmd.opts<{ out?: string }>().out;
        if (!out)
          throw new InfuseError("cli.out_required", "give --out FILE.gguf for the merged model", { kind: "usage" });
        const result = await mergeAdapter(base, adapter, out, { signal: rt.signal });
        rt.out.result(
          result,
          (r: MergeResult) =>
            `merged ${r.merged} adapted tensors into ${r.out} (${r.tensors} tensors)${r.widened.length ? `; written as F32: ${r.widened.join(", ")}` : ""}`,
        );
      }),
    );
}
