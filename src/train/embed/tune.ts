// `tuneEmbedder()`: a BERT-family encoder + pairs files → a contrastively tuned encoder in
// `<out>/model/` (a sentence-transformers folder `engine:DIR` embeds with; GGUF / ONNX beside it on
// request, written by models/bert/export), with metrics.jsonl, loss.svg and embed-tune-config.json.
// The ContrastiveTask (task.ts) runs in the shared loop (trainer.ts). Leaves out hub references (give
// a local file or folder) and BEIR scoring, which eval/ passes in as `evaluator`.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { TaskOptions } from "../../core/progress.js";
import { VERSION } from "../../core/version.js";
import { saveEncoder, type EncoderFormat } from "../../models/bert/export/index.js";
import { loadBert } from "../../models/bert/index.js";
import type { MetricLine } from "../metrics.js";
import { claimRunFolder, type RunFolder } from "../run-folder.js";
import { noExamplesError, runTraining, type TrainResult } from "../trainer.js";
import { checkWorkers } from "../workers.js";
import { permutation } from "../data/batches.js";
import type { TextEncoder } from "./encode.js";
import {
  embedTuneFlag,
  resolveEmbedTuneOptions,
  type EmbedTuneOptions,
  type ResolvedEmbedTuneOptions,
} from "./options.js";
import { readTrainingPairs, type EmbedPair } from "./pairs.js";
import { attachEncoderLora, ContrastiveTask, type ContrastiveSettings } from "./task.js";

export const EMBED_CONFIG_FILE = "embed-tune-config.json";
export const MODEL_DIR = "model";

export interface EmbedTuneResult extends TrainResult {
  out: string;
  /** The tuned encoder's folder (`engine:` + this embeds with it). */
  modelDir: string;
  files: string[];
  trainPairs: number;
  valPairs: number;
  /** Training pairs with fewer than group−1 negatives (their groups are filled with other pairs' passages). */
  shortOfNegatives: number;
  trainableParams: number;
  pooling: "mean" | "cls";
}

export interface EmbedTuneRunOptions extends TaskOptions {
  onMetric?: (line: MetricLine) => void;
  onWarning?: (message: string) => void;
  /** Extra held-out metrics at each evaluation (e.g. a BEIR folder's ndcg@10), keys without `eval_`. */
  evaluator?: (encoder: TextEncoder) => Record<string, number>;
  /** Formats of the tuned model besides the sentence-transformers folder (always written). */
  formats?: EncoderFormat[];
}

/** The held-out pairs: `valData`'s, else `valFraction` of the pairs (capped) chosen by seed. */
function splitPairs(pairs: EmbedPair[], o: ResolvedEmbedTuneOptions): { train: EmbedPair[]; val: EmbedPair[] } {
  if (o.valFraction <= 0 || pairs.length < 2) return { train: pairs, val: [] };
  const order = permutation(pairs.length, (o.seed ^ 0x5eed) >>> 0);
  let n = Math.min(pairs.length - 1, Math.max(1, Math.round(o.valFraction * pairs.length)));
  if (o.maxEvalSamples > 0) n = Math.min(n, o.maxEvalSamples);
  const val = new Set(order.slice(0, n));
  return { train: pairs.filter((_, i) => !val.has(i)), val: pairs.filter((_, i) => val.has(i)) };
}

async function readAll(files: string[]): Promise<EmbedPair[]> {
  const out: EmbedPair[] = [];
  for (const f of files) out.push(...(await readTrainingPairs(f)));
  return out;
}

export interface EmbedTunePlan {
  trainPairs: number;
  valPairs: number;
  shortOfNegatives: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Texts encoded per optimizer step (queries + their groups). */
  textsPerStep: number;
}

/** `--dry-run`: the pairs read and split, and the steps the run would take; no model is loaded. */
export async function planEmbedTune(options: EmbedTuneOptions): Promise<EmbedTunePlan> {
  const o = resolveEmbedTuneOptions(options);
  const all = await readAll(o.data);
  const { train, val } = o.valData ? { train: all, val: await readAll(o.valData) } : splitPairs(all, o);
  const stepsPerEpoch = Math.ceil(Math.ceil(train.length / o.batchSize) / o.gradAccum);
  return {
    trainPairs: train.length,
    valPairs: val.length,
    shortOfNegatives: train.filter((p) => p.neg.length < o.groupSize - 1).length,
    stepsPerEpoch,
    totalSteps: o.maxSteps ?? Math.ceil(stepsPerEpoch * o.epochs),
    textsPerStep: o.batchSize * o.gradAccum * (1 + o.groupSize),
  };
}

export async function tuneEmbedder(options: EmbedTuneOptions, run: EmbedTuneRunOptions = {}): Promise<EmbedTuneResult> {
  const o = resolveEmbedTuneOptions(options);
  checkWorkers(o.workers);
  const folder = await claimRunFolder(o.out, { resume: o.resume, overwrite: o.overwrite });
  try {
    return await tuneInto(o, run, folder);
  } finally {
    await folder.release();
  }
}

async function tuneInto(
  o: ResolvedEmbedTuneOptions,
  run: EmbedTuneRunOptions,
  folder: RunFolder,
): Promise<EmbedTuneResult> {
  const task = {
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.onProgress ? { onProgress: run.onProgress } : {}),
  };
  const all = await readAll(o.data);
  const { train, val } = o.valData ? { train: all, val: await readAll(o.valData) } : splitPairs(all, o);
  if (train.length === 0)
    throw noExamplesError(`${o.data.join(", ")} holds no pair`, "give a pairs file with one {query, pos} a line");
  const { model, tokenizer, path: source } = await loadBert(o.model, task);
  const pooling = o.pooling ?? model.config.pooling ?? "mean";
  const settings: ContrastiveSettings = {
    temperature: o.temperature,
    groupSize: o.groupSize,
    inBatchNegatives: o.inBatchNegatives,
    queryMaxLength: o.queryMaxLength,
    passageMaxLength: o.passageMaxLength,
    queryInstruction: o.queryInstruction,
    passageInstruction: o.passageInstruction,
    pooling,
    normalize: o.normalize,
    gradCacheChunk: o.gradCacheChunk,
    batchSize: o.batchSize,
    seed: o.seed,
  };
  const loraSettings = o.lora ? { r: o.rank, alpha: o.alpha, dropout: o.dropout, targets: o.targets } : null;
  const lora = loraSettings ? attachEncoderLora(model, loraSettings, o.seed) : null;
  const contrastive = new ContrastiveTask({
    model,
    tokenizer,
    modelPath: source,
    lora,
    loraSettings,
    train,
    val,
    settings,
    evaluator: run.evaluator,
    extraSettings: { data: o.data, valData: o.valData ?? null, valFraction: o.valFraction },
    settingLabel: (k) => (embedTuneFlag(k) ? `${k} (${embedTuneFlag(k)})` : k),
  });
  const shortOfNegatives = train.filter((p) => p.neg.length < o.groupSize - 1).length;
  if (shortOfNegatives > 0) {
    run.onWarning?.(
      `${shortOfNegatives} of ${train.length} pairs have fewer than ${o.groupSize - 1} negatives: their groups are filled with other pairs' passages (mine more with \`infuse embed mine\`, or lower --group-size)`,
    );
  }
  await mkdir(o.out, { recursive: true });
  await writeFile(
    path.join(o.out, EMBED_CONFIG_FILE),
    JSON.stringify({ infuse: VERSION, ...o, pooling }, null, 2) + "\n",
  );
  const result = await runTraining(contrastive, {
    ...o,
    title: `${path.basename(o.model)} contrastive${o.lora ? ` LoRA r=${o.rank}` : ""}`,
    ...task,
    runFolder: folder,
    ...(run.onMetric ? { onMetric: run.onMetric } : {}),
    ...(run.onWarning ? { onWarning: run.onWarning } : {}),
  });
  const modelDir = path.join(o.out, MODEL_DIR);
  const saved = await saveEncoder(model, modelDir, {
    ...task,
    source,
    formats: ["st", ...(run.formats ?? []).filter((f) => f !== "st")],
    pooling,
    normalize: o.normalize,
    prompts: { query: o.queryInstruction, passage: o.passageInstruction },
  });
  const files = [modelDir, ...(saved.gguf ? [saved.gguf] : []), ...(saved.onnx ? [saved.onnx] : [])];
  for (const f of ["metrics.jsonl", "loss.svg", EMBED_CONFIG_FILE]) files.push(path.join(o.out, f));
  return {
    ...result,
    out: o.out,
    modelDir,
    files,
    trainPairs: train.length,
    valPairs: val.length,
    shortOfNegatives,
    trainableParams: contrastive.params.reduce((n, p) => n + p.size, 0),
    pooling,
  };
}
