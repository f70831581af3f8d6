// Everything `infuse tune` / `tune()` accepts, the defaults (PEFT's where they exist), and validation
// with errors naming the option. Leaves out reading these from infuse.config.json.
import { InfuseError } from "../core/errors.js";
import type { QuantType } from "../tensor/index.js";
import type { DatasetSource } from "./data/records.js";

export type BaseQuant = Extract<QuantType, "q8_0" | "q4_0" | "nf4">;

export interface TuneOptions {
  /** Base model: .gguf, HF folder, or hf: reference. */
  model: string;
  data: DatasetSource[];
  /** Validation files; without them `valFraction` of the examples is held out by seed. */
  valData?: DatasetSource[];
  /**
   * Skip malformed records (bad JSON line, missing or mistyped field, CSV row of the wrong width) in
   * `data` and `valData`, counting them and reporting the first few, instead of failing on the first.
   * A file with no good record is still an error. Default: off (strict).
   */
  skipBadRecords?: boolean;
  out: string;
  template?: string;
  trainOnPrompt?: boolean;
  pack?: boolean;
  maxLength?: number;
  valFraction?: number;
  rank?: number;
  alpha?: number;
  dropout?: number;
  targets?: string[];
  rslora?: boolean;
  /** Quantize the frozen base on load (QLoRA). */
  quantize?: BaseQuant;
  lr?: number;
  schedule?: "cosine" | "linear" | "constant";
  warmupSteps?: number;
  weightDecay?: number;
  epochs?: number;
  maxSteps?: number;
  batchSize?: number;
  maxTokens?: number;
  gradAccum?: number;
  clip?: number;
  seed?: number;
  evalEvery?: number;
  patience?: number;
  saveEvery?: number;
  logEvery?: number;
  resume?: boolean;
  /**
   * Recompute each block in backward instead of keeping its activations (less memory, ~1/3 more
   * compute). Default: on for a quantized base (QLoRA, where memory is the point), off otherwise.
   */
  gradientCheckpointing?: boolean;
  /** Data-parallel worker threads (1 = this thread only). */
  workers?: number;
}

export type ResolvedTuneOptions = Required<Omit<TuneOptions, "valData" | "maxSteps" | "maxTokens" | "quantize">> &
  Pick<TuneOptions, "valData" | "maxSteps" | "maxTokens" | "quantize">;

export const TUNE_DEFAULTS = {
  skipBadRecords: false,
  template: "auto",
  trainOnPrompt: false,
  pack: false,
  maxLength: 512,
  valFraction: 0.1,
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
  workers: 1,
} as const;

/** Gradient checkpointing unless asked otherwise: on for a quantized base (QLoRA), as QLoRA users expect. */
export function defaultGradientCheckpointing(quantize: BaseQuant | undefined): boolean {
  return quantize !== undefined;
}

function bad(option: string, value: unknown, want: string): InfuseError {
  return new InfuseError("train.bad_option", `${option} = ${JSON.stringify(value)}: ${want}`, {
    kind: "usage",
    hint: `set ${option} to ${want}`,
    details: { option },
  });
}

export function resolveTuneOptions(o: TuneOptions): ResolvedTuneOptions {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const r = { ...TUNE_DEFAULTS, ...given } as unknown as ResolvedTuneOptions;
  r.targets = [...r.targets];
  r.gradientCheckpointing = o.gradientCheckpointing ?? defaultGradientCheckpointing(o.quantize);
  const positiveInt = ["maxLength", "rank", "batchSize", "gradAccum", "workers", "logEvery"] as const;
  for (const k of positiveInt) if (!Number.isInteger(r[k]) || r[k] < 1) throw bad(k, r[k], "a positive integer");
  const nonNegInt = ["warmupSteps", "evalEvery", "patience", "saveEvery", "seed"] as const;
  for (const k of nonNegInt) if (!Number.isInteger(r[k]) || r[k] < 0) throw bad(k, r[k], "an integer ≥ 0");
  if (!(r.lr > 0)) throw bad("lr", r.lr, "a positive number");
  if (!(r.alpha > 0)) throw bad("alpha", r.alpha, "a positive number");
  if (!(r.dropout >= 0 && r.dropout < 1)) throw bad("dropout", r.dropout, "a number in [0, 1)");
  if (!(r.valFraction >= 0 && r.valFraction < 1)) throw bad("valFraction", r.valFraction, "a number in [0, 1)");
  if (!(r.epochs > 0)) throw bad("epochs", r.epochs, "a positive number");
  if (r.maxSteps !== undefined && (!Number.isInteger(r.maxSteps) || r.maxSteps < 1))
    throw bad("maxSteps", r.maxSteps, "a positive integer");
  if (r.maxTokens !== undefined && (!Number.isInteger(r.maxTokens) || r.maxTokens < 1))
    throw bad("maxTokens", r.maxTokens, "a positive integer");
  if (!["cosine", "linear", "constant"].includes(r.schedule))
    throw bad("schedule", r.schedule, "cosine, linear or constant");
  if (r.quantize !== undefined && !["q8_0", "q4_0", "nf4"].includes(r.quantize))
    throw bad("quantize", r.quantize, "q8_0, q4_0 or nf4");
  if (r.data.length === 0) throw bad("data", [], "at least one dataset file");
  return r;
}
