// `tune()`: base model + datasets → trained LoRA adapter in an output folder (PEFT files, adapter.gguf,
// metrics.jsonl, loss.svg, tune-config.json): the LoRA task (lora-task.ts) run by the shared loop
// (trainer.ts); and `prepareTuneData()` behind --dry-run. Leaves out full fine-tuning (only adapters train).
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../core/config.js";
import type { TaskOptions } from "../core/progress.js";
import { InfuseError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { CHAT_TEMPLATE_FILE, writeAdapterChatTemplate } from "../models/chat-template.js";
import { loadLlama } from "../models/llama/load.js";
import type { LlamaModel } from "../models/llama/model.js";
import { attachLora, matchesTarget } from "../models/lora/attach.js";
import { writeLoraFiles } from "../models/lora/io.js";
import type { Tokenizer } from "../tokenizers/types.js";
import { splitExamples } from "./data/batches.js";
import { encodeRecords, IGNORE, packExamples, type EncodeStats, type Example } from "./data/encode.js";
import {
  addSkips,
  emptySkipReport,
  readRecords,
  skippedSummary,
  type DatasetSource,
  type SkipReport,
} from "./data/records.js";
import { resolveTemplate } from "./data/templates.js";
import { quantizeFrozenTables } from "./frozen.js";
import { LoraTask } from "./lora-task.js";
import type { MetricLine } from "./metrics.js";
import { resolveTuneOptions, type ResolvedTuneOptions, type TuneOptions } from "./options.js";
import { claimRunFolder, type RunFolder } from "./run-folder.js";
import { noExamplesError, runTraining, type TrainResult } from "./trainer.js";
import { checkWorkers } from "./workers.js";
import { DEFAULT_LIMITS, limitsOf, type Limits } from "../core/limits.js";

export interface TuneData {
  train: Example[];
  val: Example[];
  stats: { train: EncodeStats; val: EncodeStats | null };
  template: string;
  /** The template as Jinja, saved with the adapter (chat_template.jinja) so inference prompts alike. */
  chatTemplate: string;
  /** Malformed records left out of every file read (`skipBadRecords`; count 0 when strict). */
  skipped: SkipReport;
}

async function loadAll(sources: DatasetSource[], skipBadRecords: boolean) {
  const files = await Promise.all(sources.map((s) => readRecords(s, { skipBadRecords })));
  return {
    records: files.flatMap((f) => f.records),
    skipped: files.reduce((sum, f) => addSkips(sum, f.skipped), emptySkipReport()),
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
  const main = encodeRecords(tokenizer, template, loaded.records, enc);
  let trainEx: Example[];
  let valEx: Example[];
  let valStats: EncodeStats | null = null;
  if (o.valData && o.valData.length > 0) {
    const vl = await loadAll(o.valData, o.skipBadRecords);
    skipped = addSkips(skipped, vl.skipped);
    const v = encodeRecords(tokenizer, template, vl.records, enc);
    [trainEx, valEx, valStats] = [main.examples, v.examples, v.stats];
  } else ({ train: trainEx, val: valEx } = splitExamples(main.examples, o.valFraction, o.seed));
  if (o.pack) trainEx = packExamples(trainEx, o.maxLength);
  const stats = { train: main.stats, val: valStats };
  return { train: trainEx, val: valEx, stats, template: template.name, chatTemplate: template.jinja, skipped };
}

/** Token-length statistics of a dataset (before truncation). */
export function lengthStats(lengths: number[]): { min: number; mean: number; p50: number; p95: number; max: number } {
  const s = [...lengths].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return {
    min: s[0] ?? 0,
    mean: s.length ? Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10 : 0,
    p50: at(0.5),
    p95: at(0.95),
    max: s[s.length - 1] ?? 0,
  };
}

/** An example as text: the whole sequence, and the part the loss is taken on. */
export function renderExample(
  tokenizer: Tokenizer,
  e: Example,
): { text: string; learned: string; tokens: number; learnedTokens: number } {
  const learnedIds = [...e.labels].filter((l) => l !== IGNORE);
  return {
    text: tokenizer.decode([...e.ids], { skipSpecial: false }),
    learned: tokenizer.decode(learnedIds, { skipSpecial: false }),
    tokens: e.ids.length,
    learnedTokens: learnedIds.length,
  };
}

export interface TuneResult extends TrainResult {
  out: string;
  files: string[];
  trainExamples: number;
  valExamples: number;
  trainableParams: number;
  baseDtype: string;
  stats: TuneData["stats"];
  skipped: SkipReport;
}

export interface TuneRunOptions extends TaskOptions {
  config?: Pick<ResolvedConfig, "cacheDir" | "hub" | "limits">;
  onMetric?: (line: MetricLine) => void;
  /** Called once the data is read, before training, when records were skipped (`skipBadRecords`). */
  onSkipped?: (report: SkipReport) => void;
  /** Called with a line the user should read (a damaged checkpoint passed over on resume). */
  onWarning?: (message: string) => void;
}

/** `train.no_examples` saying why no record became a training example: no record, all cut, none learnable. */
function checkExamples(data: TuneData, o: ResolvedTuneOptions): void {
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
function checkRank(model: LlamaModel, rank: number, targets: string[]): void {
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
  };
  return createHash("sha256").update(JSON.stringify(keep)).digest("hex").slice(0, 16);
}

export async function tune(options: TuneOptions, run: TuneRunOptions = {}): Promise<TuneResult> {
  const o = resolveTuneOptions(options);
  checkWorkers(o.workers);
  const folder = await claimRunFolder(o.out, { resume: o.resume, overwrite: o.overwrite });
  try {
    return await tuneInto(o, run, folder);
  } finally {
    await folder.release();
  }
}

async function tuneInto(o: ResolvedTuneOptions, run: TuneRunOptions, folder: RunFolder): Promise<TuneResult> {
  const { signal, onProgress } = run;
  const task = { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) };
  const loaded = await loadLlama(o.model, {
    ...task,
    ...(run.config ? { config: run.config } : {}),
    ...(o.quantize ? { quantize: o.quantize } : {}),
  });
  if (o.quantize) quantizeFrozenTables(loaded.model); // QLoRA: 8-bit vocabulary tables
  const data = await prepareTuneData(loaded.tokenizer, o, limitsOf(run.config));
  if (data.skipped.count > 0) {
    run.onSkipped?.(data.skipped);
    const n = data.skipped.count;
    onProgress?.({
      task: "read data",
      done: n,
      total: n,
      unit: "bad records skipped",
      note: skippedSummary(data.skipped),
    });
  }
  checkExamples(data, o);
  checkRank(loaded.model, o.rank, o.targets);
  const lora = attachLora(loaded.model, {
    r: o.rank,
    alpha: o.alpha,
    dropout: o.dropout,
    rslora: o.rslora,
    targets: o.targets,
    seed: o.seed,
  });
  await mkdir(o.out, { recursive: true });
  const record = { infuse: VERSION, ...o, ...(o.skipBadRecords ? { skippedRecords: data.skipped } : {}) };
  await writeFile(path.join(o.out, "tune-config.json"), JSON.stringify(record, null, 2) + "\n");
  const padId = loaded.tokenizer.eosId ?? 0;
  const loraTask = new LoraTask({
    model: loaded.model,
    lora,
    train: data.train,
    val: data.val,
    limits: { batchSize: o.batchSize, ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}) },
    padId,
    seed: o.seed,
    gradientCheckpointing: o.gradientCheckpointing,
    fingerprint: fingerprint(o),
    source: { model: loaded.path, quantize: o.quantize },
  });
  const result = await runTraining(loraTask, {
    ...o,
    title: `${path.basename(o.model)} LoRA r=${o.rank}`,
    ...task,
    runFolder: folder,
    ...(run.onMetric ? { onMetric: run.onMetric } : {}),
    ...(run.onWarning ? { onWarning: run.onWarning } : {}),
  });
  await writeLoraFiles(o.out, lora, o.model);
  if (data.chatTemplate) await writeAdapterChatTemplate(o.out, data.chatTemplate);
  const files = [
    ...(data.chatTemplate ? [CHAT_TEMPLATE_FILE] : []),
    "adapter_config.json",
    "adapter_model.safetensors",
    "adapter.gguf",
    "metrics.jsonl",
    "loss.svg",
    "tune-config.json",
  ];
  return {
    ...result,
    out: o.out,
    files: files.map((f) => path.join(o.out, f)),
    trainExamples: data.train.length,
    valExamples: data.val.length,
    trainableParams: lora.params().reduce((n, p) => n + p.size, 0),
    baseDtype: o.quantize ?? loaded.dtype,
    stats: data.stats,
    skipped: data.skipped,
  };
}

export interface DryRunReport {
  model: string;
  template: string;
  records: { train: number; val: number | null };
  /** Malformed records left out (`skipBadRecords`); count 0 when none or strict. */
  skipped: SkipReport;
  examples: { train: number; val: number };
  truncated: number;
  dropped: number;
  maxLength: number;
  tokens: ReturnType<typeof lengthStats>;
  learnedTokens: number;
  samples: ReturnType<typeof renderExample>[];
}

/** What training would see, without training: counts, token lengths, 3 rendered examples. */
export async function dryRunTune(options: TuneOptions, run: TuneRunOptions = {}): Promise<DryRunReport> {
  const o = resolveTuneOptions(options);
  const loaded = await loadLlama(o.model, {
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.config ? { config: run.config } : {}),
  });
  const data = await prepareTuneData(loaded.tokenizer, o, limitsOf(run.config));
  const { train: tr, val } = data.stats;
  return {
    model: o.model,
    template: data.template,
    records: { train: tr.records, val: val ? val.records : null },
    skipped: data.skipped,
    examples: { train: data.train.length, val: data.val.length },
    truncated: tr.truncated + (val?.truncated ?? 0),
    dropped: tr.dropped + (val?.dropped ?? 0),
    maxLength: o.maxLength,
    tokens: lengthStats(tr.lengths),
    learnedTokens: tr.trainedTokens,
    samples: data.train.slice(0, 3).map((e) => renderExample(loaded.tokenizer, e)),
  };
}
