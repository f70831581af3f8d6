// `tune()`: base model + datasets → trained LoRA adapter in an output folder (PEFT files, adapter.gguf,
// metrics.jsonl, loss.svg, tune-config.json): the LoRA task (lora-task.ts) run by the shared loop
// (trainer.ts); the data and the task come from prepare.ts, --dry-run is dry-run.ts. Leaves out full fine-tuning (only adapters train).
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../core/config.js";
import { limitsOf } from "../core/limits.js";
import type { TaskOptions } from "../core/progress.js";
import { VERSION } from "../core/version.js";
import { CHAT_TEMPLATE_FILE, writeAdapterChatTemplate } from "../models/chat-template.js";
import { loadLlama } from "../models/llama/load.js";
import { writeLoraFiles } from "../models/lora/io.js";
import { skippedSummary, type SkipReport } from "./data/records.js";
import { clearArena, dropDequantCache } from "../tensor/index.js";
import { quantizeFrozenTables } from "./frozen.js";
import type { MetricLine } from "./metrics.js";
import {
  baseStorage,
  resolveTuneOptions,
  storageOption,
  type ResolvedTuneOptions,
  type TuneOptions,
} from "./options.js";
import { checkExamples, checkRank, createTuneTask, dataWarnings, prepareTuneData, type TuneData } from "./prepare.js";
import { claimRunFolder, TRUNCATED_FILE, type RunFolder } from "./run-folder.js";
import { runTraining, type TrainResult } from "./trainer.js";
import { checkWorkers } from "./workers.js";

export { prepareTuneData, type TuneData } from "./prepare.js";
export { dryRunTune, lengthStats, renderExample, type DryRunReport, type DryRunOptions } from "./dry-run.js";

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
  /** Called with a line the user should read (records cut to --max-length, a damaged checkpoint passed over). */
  onWarning?: (message: string) => void;
  /** Called with a line worth showing (the columns recognised by name). */
  onInfo?: (message: string) => void;
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
    ...storageOption(o),
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
  for (const line of data.columns) run.onInfo?.(line);
  for (const line of dataWarnings(data, o, loaded.model.config.contextLength)) run.onWarning?.(line);
  const { lora, task: loraTask } = createTuneTask(loaded, data, o);
  await mkdir(o.out, { recursive: true });
  const record = { infuse: VERSION, ...o, ...(o.skipBadRecords ? { skippedRecords: data.skipped } : {}) };
  await writeFile(path.join(o.out, "tune-config.json"), JSON.stringify(record, null, 2) + "\n");
  // every record cut to --max-length, one JSON line each: which, its tokens, how many kept, where cut
  if (data.cuts.length > 0)
    await writeFile(path.join(o.out, TRUNCATED_FILE), data.cuts.map((c) => JSON.stringify(c) + "\n").join(""));
  const result = await runTraining(loraTask, {
    ...o,
    title: `${path.basename(o.model)} LoRA r=${o.rank}`,
    ...task,
    runFolder: folder,
    ...(run.onMetric ? { onMetric: run.onMetric } : {}),
    ...(run.onWarning ? { onWarning: run.onWarning } : {}),
  }).finally(() => {
    // the steps' pooled arrays and decoded weights are not needed after training (a server lives on)
    clearArena();
    dropDequantCache();
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
    ...(data.cuts.length > 0 ? [TRUNCATED_FILE] : []),
  ];
  return {
    ...result,
    out: o.out,
    files: files.map((f) => path.join(o.out, f)),
    trainExamples: data.train.length,
    valExamples: data.val.length,
    trainableParams: lora.params().reduce((n, p) => n + p.size, 0),
    baseDtype: baseStorage(o) ?? loaded.dtype,
    stats: data.stats,
    skipped: data.skipped,
  };
}
