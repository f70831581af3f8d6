// Records → training examples for a tune run: read every dataset file (columns recognised by name),
// render with the template, encode and cut to --max-length, split off validation (capped), pack;
// the checks that stop a run before it starts, and the warnings about cut records and context.
import { createHash } from "node:crypto";
import { InfuseError } from "../core/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../core/limits.js";
import type { LlamaModel } from "../models/llama/model.js";
import type { LoadedLlama } from "../models/llama/load.js";
import { attachLora, matchesTarget, type LoraSet } from "../models/lora/attach.js";
import type { Tokenizer } from "../tokenizers/types.js";
import { capExamples, splitExamples } from "./data/batches.js";
import { describeGuess } from "./data/columns.js";
import { encodeRecords, packExamples, type CutRecord, type EncodeStats, type Example } from "./data/encode.js";
import { addSkips, emptySkipReport, readRecords, type DatasetSource, type SkipReport } from "./data/records.js";
import { resolveTemplate } from "./data/templates.js";
import { LoraTask } from "./lora-task.js";
import { tuneFlag, TUNE_DEFAULTS, type ResolvedTuneOptions } from "./options.js";
import { noExamplesError } from "./trainer.js";

export interface TuneData {
  train: Example[];
  val: Example[];
  stats: { train: EncodeStats; val: EncodeStats | null };
  template: string;
  /** The template as Jinja, saved with the adapter (chat_template.jinja) so inference prompts alike. */
  chatTemplate: string;
  /** Malformed records left out of every file read (`skipBadRecords`; count 0 when strict). */
  skipped: SkipReport;
  /** One line per file whose columns were recognised by name (question → instruction …). */
  columns: string[];
  /** Records cut to --max-length (training and validation), written to the run's truncated.jsonl. */
  cuts: CutRecord[];
}

async function loadAll(sources: DatasetSource[], skipBadRecords: boolean) {
  const files = await Promise.all(sources.map((s) => readRecords(s, { skipBadRecords })));
  return {
    records: files.flatMap((f) => f.records),
    skipped: files.reduce((sum, f) => addSkips(sum, f.skipped), emptySkipReport()),
    columns: files.flatMap((f, i) => describeGuess(sources[i]!.path, f.guessed) ?? []),
  };
}

/** Records → examples, split (by file or seed), optionally packed. */
export async function prepareTuneData(
  tokenizer: Tokenizer,
  o: ResolvedTuneOptions,
  limits: Limits = DEFAULT_LIMITS,
): Promise<TuneData> {
  const template = await resolveTemplate(o.template, tokenizer, { maxChars: limits.templateMaxChars });
  const enc = { maxLength: o.maxLength, trainOnPrompt: o.trainOnPrompt };
  const loaded = await loadAll(o.data, o.skipBadRecords);
  let skipped = loaded.skipped;
  const columns = [...loaded.columns];
  const main = encodeRecords(tokenizer, template, loaded.records, enc);
  const cuts = [...main.cuts];
  let trainEx: Example[];
  let valEx: Example[];
  let valStats: EncodeStats | null = null;
  if (o.valData && o.valData.length > 0) {
    const vl = await loadAll(o.valData, o.skipBadRecords);
    skipped = addSkips(skipped, vl.skipped);
    columns.push(...vl.columns);
    const v = encodeRecords(tokenizer, template, vl.records, enc);
    cuts.push(...v.cuts);
    [trainEx, valEx, valStats] = [main.examples, capExamples(v.examples, o.maxEvalSamples, o.seed), v.stats];
  } else {
    const cap = o.maxEvalSamples > 0 ? o.maxEvalSamples : Infinity;
    ({ train: trainEx, val: valEx } = splitExamples(main.examples, o.valFraction, o.seed, cap));
  }
  if (o.pack) trainEx = packExamples(trainEx, o.maxLength);
  const stats = { train: main.stats, val: valStats };
  return {
    train: trainEx,
    val: valEx,
    stats,
    template: template.name,
    chatTemplate: template.jinja,
    skipped,
    columns,
    cuts,
  };
}

/** `train.no_examples` saying why no record became a training example: no record, all cut, none learnable. */
export function checkExamples(data: TuneData, o: ResolvedTuneOptions): void {
  if (data.train.length > 0) return;
  const files = o.data.map((d) => d.path).join(", ");
  const st = data.stats.train;
  const details = { files: o.data.map((d) => d.path), records: st.records, truncated: st.truncated };
  if (st.records === 0) {
    const skipped = data.skipped.count > 0 ? ` (${data.skipped.count} malformed records skipped)` : "";
    throw noExamplesError(`${files} hold no record${skipped}`, "give a dataset file with records", details);
  }
  const longest = st.lengths.reduce((m, n) => Math.max(m, n), 0);
  if (st.truncated > 0) {
    throw noExamplesError(
      `all ${st.records} records of ${files} lose every token to learn when cut to --max-length ${o.maxLength} (${st.truncated} truncated)`,
      `raise --max-length (maxLength; the longest record has ${longest} tokens)`,
      { ...details, maxLength: o.maxLength, longest },
    );
  }
  throw noExamplesError(
    `all ${st.records} records of ${files} were dropped: none has a token to learn`,
    "check the template and the response fields (--output-column); --dry-run shows what training sees",
    details,
  );
}

/**
 * `train.rank_too_large` unless r ≤ min(in, out) of every adapted layer: a larger rank adds no
 * expressiveness and its A, B and optimizer moments grow without bound.
 */
export function checkRank(model: LlamaModel, rank: number, targets: string[]): void {
  let narrowest: { name: string; in: number; out: number } | undefined;
  for (const [name, lin] of model.linears()) {
    if (!targets.some((t) => matchesTarget(name, t))) continue;
    const [i, out] = [lin.inFeatures, lin.outFeatures];
    if (!narrowest || Math.min(i, out) < Math.min(narrowest.in, narrowest.out)) narrowest = { name, in: i, out };
  }
  if (!narrowest) return; // no target matched: attachLora names the pattern
  const max = Math.min(narrowest.in, narrowest.out);
  if (rank > max) {
    throw new InfuseError(
      "train.rank_too_large",
      `rank = ${rank} is larger than ${narrowest.name} allows (${narrowest.in} in, ${narrowest.out} out)`,
      {
        kind: "usage",
        hint: `set --rank (rank) to at most ${max}: LoRA's rank cannot exceed min(in, out) of an adapted layer`,
        details: { option: "rank", flag: "--rank", rank, max, layer: narrowest.name },
      },
    );
  }
}

const pct = (n: number, d: number): string => {
  const p = (100 * n) / Math.max(1, d);
  return p > 0 && p < 1 ? "<1%" : `${Math.round(p)}%`;
};

/**
 * What the user should know before training on `data`: the share of records longer than --max-length
 * (cut: a prompt loses its middle, a response its end), and a --max-length past the model's context.
 */
export function dataWarnings(data: TuneData, o: ResolvedTuneOptions, contextLength: number): string[] {
  const out: string[] = [];
  for (const [name, st] of [
    ["training", data.stats.train],
    ["validation", data.stats.val],
  ] as const) {
    if (!st || st.truncated === 0) continue;
    const longest = st.lengths.reduce((m, n) => Math.max(m, n), 0);
    out.push(
      `${pct(st.truncated, st.records)} of ${name} records (${st.truncated} of ${st.records}) exceed ${o.maxLength} tokens ` +
        `and are cut (the longest has ${longest}): a prompt loses its middle, a response its end; ` +
        `--dry-run marks the cut as [… N tokens cut …], the run lists them in truncated.jsonl; raise --max-length to keep them whole`,
    );
  }
  if (o.maxLength > contextLength) {
    out.push(
      `--max-length ${o.maxLength} exceeds the model's context of ${contextLength} tokens: positions past it were never trained; use --max-length ${contextLength} or less`,
    );
  }
  return out;
}

/** Options a resume may change: where and how often to log, save and evaluate, and how long to train. */
const RESUME_FREE = new Set([
  "out",
  "resume",
  "overwrite",
  "evalEvery",
  "saveEvery",
  "logEvery",
  "patience",
  "workers",
  "epochs",
  "maxSteps",
  // the loop compares these itself (trainer.ts)
  "lr",
  "schedule",
  "warmupSteps",
  "weightDecay",
  "gradAccum",
  "clip",
]);

/** The tune options a resume must share, by name (compared one by one, each difference named). */
export function tuneSettings(o: ResolvedTuneOptions): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => !RESUME_FREE.has(k) && v !== undefined));
}

/** `rank (--rank)`: a setting as the user sets it. */
export function settingLabel(key: string): string {
  const flag = tuneFlag(key);
  return flag && flag !== "MODEL" ? `${key} (${flag})` : key;
}

function fingerprint(o: ResolvedTuneOptions): string {
  const keep = {
    ...o,
    out: undefined,
    resume: undefined,
    overwrite: undefined,
    evalEvery: undefined,
    saveEvery: undefined,
    logEvery: undefined,
    patience: undefined,
    workers: undefined,
    // Off (the default) leaves the key out, so strict runs keep the fingerprint they had before it existed.
    skipBadRecords: o.skipBadRecords || undefined,
    maxEvalSamples: o.maxEvalSamples === TUNE_DEFAULTS.maxEvalSamples ? undefined : o.maxEvalSamples,
  };
  return createHash("sha256").update(JSON.stringify(keep)).digest("hex").slice(0, 16);
}

/** The adapters attached to the loaded base and the LoRA task the loop trains. */
export function createTuneTask(
  loaded: LoadedLlama,
  data: TuneData,
  o: ResolvedTuneOptions,
): { lora: LoraSet; task: LoraTask } {
  const lora = attachLora(loaded.model, {
    r: o.rank,
    alpha: o.alpha,
    dropout: o.dropout,
    rslora: o.rslora,
    targets: o.targets,
    seed: o.seed,
  });
  const task = new LoraTask({
    model: loaded.model,
    lora,
    train: data.train,
    val: data.val,
    limits: { batchSize: o.batchSize, ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}) },
    padId: loaded.tokenizer.eosId ?? 0,
    seed: o.seed,
    gradientCheckpointing: o.gradientCheckpointing,
    fingerprint: fingerprint(o),
    settings: tuneSettings(o),
    settingLabel,
    source: { model: loaded.path, quantize: o.quantize, precision: o.precision },
  });
  return { lora, task };
}
