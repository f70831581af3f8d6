// Everything `infuse embed tune` / `tuneEmbedder()` accepts, as one zod schema (the pattern of
// train/options.ts): each field's type, error wording, flag and help line. Defaults follow
// FlagEmbedding's embedder fine-tuning recipe where it has one (τ 0.02, group 8, in-batch negatives).
import { z } from "zod";
import { InfuseError } from "../../core/errors.js";
import { fieldFlag, optionError, optionTypes, type FlagMeta } from "../../core/option-schema.js";
import { loopOptionFields } from "../loop-options.js";

const { posInt, nonNegInt, pos, unit, bool, text } = optionTypes;

const files = () =>
  z.array(z.string().min(1), { error: "a list of file paths" }).min(1, { error: "at least one pairs file" });
const opt = <T extends z.ZodType>(t: T, meta: FlagMeta) => t.optional().meta(meta);

export const EmbedTuneOptionsSchema = z.strictObject({
  /** The starting encoder: a BERT-family .gguf or a Hugging Face / sentence-transformers folder. */
  model: z.string({ error: "a model path" }).min(1, { error: "a model path" }).meta({ flag: "MODEL" }),
  /** Pairs files (JSONL {query, pos, neg?}). */
  data: files().meta({ flag: "--data" }),
  valData: opt(files(), { flag: "--val" }),
  /** Output folder ("" only for a dry run). */
  out: text().meta({ flag: "--out" }),
  valFraction: opt(unit(), {
    flag: "--val-fraction",
    arg: "<f>",
    help: "held-out share of the pairs when no --val is given (0.05)",
  }),
  maxEvalSamples: opt(nonNegInt(), {
    flag: "--max-eval-samples",
    arg: "<n>",
    help: "held-out pairs at most, chosen by seed (200; 0 = all)",
  }),
  temperature: opt(pos(), { flag: "--temperature", arg: "<t>", help: "InfoNCE temperature τ (0.02)" }),
  groupSize: opt(posInt(), {
    flag: "--group-size",
    arg: "<n>",
    help: "passages per query: 1 positive + n−1 negatives from its neg list (8)",
  }),
  inBatchNegatives: opt(bool(), {
    flag: "--in-batch-negatives",
    help: "score every query against every passage of the batch (default)",
    off: "score each query against its own group only",
  }),
  queryMaxLength: opt(posInt(), { flag: "--query-max-length", arg: "<n>", help: "tokens per query (64)" }),
  passageMaxLength: opt(posInt(), { flag: "--passage-max-length", arg: "<n>", help: "tokens per passage (256)" }),
  queryInstruction: opt(text(), {
    flag: "--query-instruction",
    arg: "<text>",
    help: 'prefix put before every query, e.g. "query: " (none)',
  }),
  passageInstruction: opt(text(), {
    flag: "--passage-instruction",
    arg: "<text>",
    help: 'prefix put before every passage, e.g. "passage: " (none)',
  }),
  pooling: opt(z.enum(["mean", "cls"], { error: "mean or cls" }), {
    flag: "--pooling",
    arg: "<p>",
    help: "mean|cls (default: the model's own, else mean)",
  }),
  normalize: opt(bool(), {
    flag: "--normalize",
    help: "unit-length embeddings, cosine scores (default)",
    off: "raw dot products of the pooled vectors",
  }),
  gradCacheChunk: opt(nonNegInt(), {
    flag: "--grad-cache-chunk",
    arg: "<n>",
    help: "GradCache: encode the batch without a graph, then re-encode n texts at a time with one (0 = off)",
  }),
  lora: opt(bool(), { flag: "--lora", help: "train LoRA adapters on the encoder instead of every weight" }),
  rank: opt(posInt(), { flag: "--rank", short: "-r", arg: "<n>", help: "LoRA rank (8)" }),
  alpha: opt(pos(), { flag: "--alpha", arg: "<a>", help: "LoRA alpha (16)" }),
  dropout: opt(unit(), { flag: "--dropout", arg: "<p>", help: "LoRA dropout (0)" }),
  targets: opt(z.array(z.string(), { error: "a list of module names" }).min(1, { error: "a list of module names" }), {
    flag: "--targets",
    arg: "<list>",
    help: "LoRA layers: attn_q,attn_k,attn_v (default), all-linear, GGUF names, globs",
  }),
  ...loopOptionFields({
    lr: "peak learning rate (2e-5; 1e-4 with --lora)",
    schedule: "cosine|linear|constant (linear)",
    weightDecay: "AdamW weight decay (0.01)",
    epochs: "passes over the pairs (1)",
    batchSize: "queries per micro-batch (16)",
    seed: "seed for split, shuffling, negatives, init (0)",
    evalEvery: "held-out loss, accuracy and MRR every N steps (0 = at the end)",
    patience: "stop after N evaluations without a better eval loss (0 = never)",
    overwrite: "start afresh in an --out that holds a previous run",
  }),
  workers: opt(posInt(), {
    flag: "--workers",
    arg: "<n>",
    help: "worker threads; negatives shared over all of them (1)",
  }),
});

export type EmbedTuneOptions = z.input<typeof EmbedTuneOptionsSchema>;

type Defined<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
type Unset = "valData" | "maxSteps" | "pooling";
export type ResolvedEmbedTuneOptions = Defined<Omit<EmbedTuneOptions, Unset>> & Pick<EmbedTuneOptions, Unset>;

export const EMBED_TUNE_DEFAULTS = {
  valFraction: 0.05,
  maxEvalSamples: 200,
  temperature: 0.02,
  groupSize: 8,
  inBatchNegatives: true,
  queryMaxLength: 64,
  passageMaxLength: 256,
  queryInstruction: "",
  passageInstruction: "",
  normalize: true,
  gradCacheChunk: 0,
  lora: false,
  rank: 8,
  alpha: 16,
  dropout: 0,
  targets: ["attn_q", "attn_k", "attn_v"],
  schedule: "linear",
  warmupSteps: 0,
  weightDecay: 0.01,
  epochs: 1,
  batchSize: 16,
  gradAccum: 1,
  clip: 1,
  seed: 0,
  evalEvery: 0,
  patience: 0,
  saveEvery: 0,
  logEvery: 1,
  workers: 1,
  resume: false,
  overwrite: false,
} as const;

/** The flag of a top-level field (`groupSize` → `--group-size`). */
export function embedTuneFlag(field: string): string | undefined {
  return fieldFlag(EmbedTuneOptionsSchema, field);
}

function badOption(error: z.ZodError, input: unknown): InfuseError {
  return optionError(error, input, {
    code: "train.bad_option",
    noun: "an embed tune option",
    flagOf: (path) => embedTuneFlag(path[0] ?? ""),
  });
}

/** Validates with EmbedTuneOptionsSchema and fills in the defaults; errors are `train.bad_option`. */
export function resolveEmbedTuneOptions(o: EmbedTuneOptions): ResolvedEmbedTuneOptions {
  const parsed = EmbedTuneOptionsSchema.safeParse(o);
  if (!parsed.success) throw badOption(parsed.error, o);
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const r = { ...EMBED_TUNE_DEFAULTS, lr: o.lora ? 1e-4 : 2e-5, ...given } as unknown as ResolvedEmbedTuneOptions;
  r.targets = [...r.targets];
  // GradCache and workers encode every text twice; LoRA dropout would draw other masks the second time
  if (r.lora && r.dropout > 0 && (r.gradCacheChunk > 0 || r.workers > 1)) {
    throw new InfuseError("train.bad_option", "LoRA dropout cannot be combined with --grad-cache-chunk or --workers", {
      kind: "usage",
      hint: "set --dropout 0 (the default), or train in one thread without GradCache",
      details: { option: "dropout", flag: "--dropout" },
    });
  }
  return r;
}
