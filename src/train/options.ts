// Everything `infuse tune` / `tune()` / the config file's `tune` section accepts, as one zod schema:
// each field's type, its error wording, its command-line flag and help line. The library validates
// with it, the CLI builds its flags from it, the config file checks its `tune` section with it.
// Defaults are PEFT's where they exist.
import { z } from "zod";
import { InfuseError } from "../core/errors.js";
import { fieldFlag, optionError, optionTypes, type FlagMeta } from "../core/option-schema.js";
import { loopOptionFields } from "./loop-options.js";
import type { QuantType } from "../tensor/index.js";
import type { DatasetSource } from "./data/records.js";

const { posInt, nonNegInt, pos, unit, bool, text } = optionTypes;

export type BaseQuant = Extract<QuantType, "q8_0" | "q4_0" | "nf4">;
/** How the frozen base's block matrices are held: f32, or rounded to bf16 on load (compute stays f32). */
export type TrainPrecision = "f32" | "bf16";

/** A field's command line: `flag` names it in errors; fields with `help` are flags the CLI makes itself. */

const opt = <T extends z.ZodType>(t: T, meta: FlagMeta) => t.optional().meta(meta);

const DATASET_FORMATS = ["auto", "alpaca", "chat", "csv", "text"] as const;
const column = z.string({ error: "a column name" }).min(1, { error: "a column name" }).exactOptional();
export const DatasetSourceSchema = z.strictObject({
  path: z.string({ error: "a file path" }).min(1, { error: "a file path" }),
  format: z.enum(DATASET_FORMATS, { error: DATASET_FORMATS.join(", ") }).exactOptional(),
  columns: z.strictObject({ instruction: column, input: column, output: column, system: column }).exactOptional(),
}) satisfies z.ZodType<DatasetSource>;
const datasets = (w: string) => z.array(DatasetSourceSchema, { error: w }).min(1, { error: w });

export const TuneOptionsSchema = z.strictObject({
  /** Base model: .gguf, HF folder, or hf: reference. */
  model: z.string({ error: "a model path" }).min(1, { error: "a model path" }).meta({ flag: "MODEL" }),
  data: datasets("at least one dataset file").meta({ flag: "--data" }),
  /** Validation files; without them `valFraction` of the examples is held out by seed. */
  valData: opt(datasets("at least one dataset file"), { flag: "--val" }),
  /**
   * Skip malformed records (bad JSON line, missing or mistyped field, CSV row of the wrong width) in
   * `data` and `valData`, counting them and reporting the first few, instead of failing on the first.
   * A file with no good record is still an error. Default: off (strict).
   */
  skipBadRecords: opt(bool(), {
    flag: "--skip-bad-records",
    help: "skip malformed records (bad JSON line, missing or mistyped field, CSV row of the wrong width) and report them; default: stop at the first",
  }),
  /** Output folder ("" only for a dry run). */
  out: text().meta({ flag: "--out" }),
  template: opt(text(), {
    flag: "--template",
    arg: "<t>",
    help: "auto (model's chat template, else alpaca)|model|alpaca|llama2|chatml|none|FILE",
  }),
  trainOnPrompt: opt(bool(), {
    flag: "--train-on-prompt",
    help: "take the loss on prompt tokens too (default: responses only)",
  }),
  pack: opt(bool(), {
    flag: "--pack",
    help: "pack several examples into each sequence (each still attends only to itself)",
  }),
  maxLength: opt(posInt(), {
    flag: "--max-length",
    arg: "<n>",
    help: "tokens per sequence; longer records are truncated and counted (512)",
  }),
  valFraction: opt(unit(), { flag: "--val-fraction", arg: "<f>", help: "held-out share when no --val is given (0.1)" }),
  /**
   * Validation examples at most (chosen by seed): each evaluation runs over all of them, so an
   * uncapped 10% of a large dataset makes every evaluation cost many training steps. 0 = no cap.
   */
  maxEvalSamples: opt(nonNegInt(), {
    flag: "--max-eval-samples",
    arg: "<n>",
    help: "validation examples at most, chosen by seed; the rest of a held-out share trains (200; 0 = all)",
  }),
  rank: opt(posInt(), { flag: "--rank", short: "-r", arg: "<n>", help: "LoRA rank (8)" }),
  alpha: opt(pos(), { flag: "--alpha", arg: "<a>", help: "LoRA alpha (16)" }),
  dropout: opt(unit(), { flag: "--dropout", arg: "<p>", help: "LoRA dropout (0.05)" }),
  targets: opt(z.array(z.string(), { error: "a list of module names" }).min(1, { error: "a list of module names" }), {
    flag: "--targets",
    arg: "<list>",
    help: "comma-separated modules: q_proj,v_proj (default), all-linear, attn_q, globs",
  }),
  rslora: opt(bool(), { flag: "--rslora", help: "scale by alpha/√r (rank-stabilised LoRA)" }),
  /** Quantize the frozen base on load (QLoRA). */
  quantize: opt(z.enum(["q8_0", "q4_0", "nf4"], { error: "q8_0, q4_0 or nf4" }), {
    flag: "--quantize",
    arg: "<type>",
    help: "QLoRA: quantize the frozen base on load: q8_0|q4_0|nf4",
  }),
  /**
   * bf16: the frozen base's block matrices rounded to bf16 on load and held so (half their memory);
   * activations, adapters and every product stay f32 (onnxruntime's CPU kernels have no bf16 matmul).
   */
  precision: opt(z.enum(["f32", "bf16"], { error: "f32 or bf16" }), {
    flag: "--precision",
    arg: "<p>",
    help: "frozen base storage: f32 (default) or bf16 (half the memory, f32 compute)",
  }),
  ...loopOptionFields({
    lr: "peak learning rate (2e-4)",
    schedule: "cosine|linear|constant (cosine)",
    weightDecay: "AdamW weight decay (0)",
    epochs: "passes over the data (1)",
    batchSize: "sequences per micro-batch (4)",
    seed: "seed for split, shuffling, init and dropout (0)",
    evalEvery: "validation loss every N steps (0 = at the end)",
    patience: "stop after N evaluations without improvement (0 = never)",
    overwrite: "start afresh in an --out that holds a previous run, replacing its adapter, metrics and checkpoints",
  }),
  maxTokens: opt(posInt(), { flag: "--max-tokens", arg: "<n>", help: "padded tokens per micro-batch at most" }),
  /**
   * Recompute each block in backward instead of keeping its activations. Default on: a checkpointed
   * Llama block runs as two fused onnxruntime graphs (train/fused-block.ts), which beat keeping
   * activations op by op even with the recomputation (f32 LoRA MFU: stories15M 0.47 → 0.61,
   * SmolLM-135M 0.53 → 0.69), and holds one block's activations instead of all.
   */
  gradientCheckpointing: opt(bool(), {
    flag: "--gradient-checkpointing",
    help: "recompute blocks in backward, each as fused graphs: less memory and, on Llama blocks, faster (default)",
    off: "keep every block's activations, op by op (faster only where blocks cannot fuse, e.g. biases as in Qwen2)",
  }),
  /** Data-parallel worker threads (1 = this thread only). */
  workers: opt(posInt(), { flag: "--workers", arg: "<n>", help: "data-parallel worker threads (1)" }),
});

/** What `tune()` accepts (every field but model, data and out optional). */
export type TuneOptions = z.input<typeof TuneOptionsSchema>;

/** The config file's `tune` section: defaults for every option but the run's model, data, output and resume. */
export const TuneConfigSchema = TuneOptionsSchema.omit({
  model: true,
  data: true,
  valData: true,
  out: true,
  resume: true,
  overwrite: true,
}).partial();
export type TuneConfig = z.input<typeof TuneConfigSchema>;

type Defined<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
type Unset = "valData" | "maxSteps" | "maxTokens" | "quantize" | "precision"; // precision: f32 when unset
export type ResolvedTuneOptions = Defined<Omit<TuneOptions, Unset>> & Pick<TuneOptions, Unset>;

export const TUNE_DEFAULTS = {
  skipBadRecords: false,
  template: "auto",
  trainOnPrompt: false,
  pack: false,
  maxLength: 512,
  valFraction: 0.1,
  maxEvalSamples: 200,
  rank: 8,
  alpha: 16,
  dropout: 0.05,
  targets: ["q_proj", "v_proj"],
  rslora: false,
  lr: 2e-4,
  schedule: "cosine",
  warmupSteps: 0,
  weightDecay: 0,
  epochs: 1,
  batchSize: 4,
  gradAccum: 1,
  clip: 1,
  seed: 0,
  evalEvery: 0,
  patience: 0,
  saveEvery: 0,
  logEvery: 1,
  resume: false,
  overwrite: false,
  workers: 1,
} as const;

/** The flag of a top-level field (`maxLength` → `--max-length`). */
export function tuneFlag(field: string): string | undefined {
  return fieldFlag(TuneOptionsSchema, field);
}

/** The schema's first complaint as `train.bad_option`, naming the field and its flag. */
function badOption(error: z.ZodError, input: unknown): InfuseError {
  return optionError(error, input, {
    code: "train.bad_option",
    noun: "a tune option",
    flagOf: (path) => tuneFlag(path[0] ?? ""),
  });
}

/** Validates `o` with TuneOptionsSchema and fills in the defaults; errors are `train.bad_option`. */
export function resolveTuneOptions(o: TuneOptions): ResolvedTuneOptions {
  const parsed = TuneOptionsSchema.safeParse(o);
  if (!parsed.success) throw badOption(parsed.error, o);
  // the caller's key order (not the schema's): tune-config.json and the checkpoint fingerprint keep it
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const r = { ...TUNE_DEFAULTS, ...given } as unknown as ResolvedTuneOptions;
  r.targets = [...r.targets];
  // On for every base unless asked otherwise (it was QLoRA only until checkpointed blocks ran as fused
  // graphs, which beat keeping activations). Set here, not in TUNE_DEFAULTS: the key order is the caller's.
  r.gradientCheckpointing = o.gradientCheckpointing ?? true;
  if (r.precision === "bf16" && r.quantize) {
    throw new InfuseError(
      "train.bad_option",
      `--precision bf16 and --quantize ${r.quantize} both set the base's storage`,
      {
        kind: "usage",
        hint: "give one: --quantize for a 4/8-bit base (QLoRA), or --precision bf16 for a 16-bit one",
        details: { precision: r.precision, quantize: r.quantize },
      },
    );
  }
  return r;
}

/** The storage type the frozen base's block matrices are loaded into (none: as the file holds them). */
export function baseStorage(o: {
  quantize?: BaseQuant | undefined;
  precision?: TrainPrecision | undefined;
}): QuantType | undefined {
  return o.quantize ?? (o.precision === "bf16" ? "bf16" : undefined);
}

/** baseStorage as loadLlama's `quantize` option (absent when the base loads as stored). */
export function storageOption(o: Parameters<typeof baseStorage>[0]): { quantize?: QuantType } {
  const q = baseStorage(o);
  return q ? { quantize: q } : {};
}
