// train/: the shared training loop and its task seam, LoRA/QLoRA fine-tuning of Llama-family models as
// its first task: datasets, templates, checkpoints, workers, metrics, merging, export. Re-exports only.
export {
  tune,
  dryRunTune,
  prepareTuneData,
  lengthStats,
  renderExample,
  type TuneResult,
  type TuneRunOptions,
  type TuneData,
  type DryRunReport,
  type DryRunOptions,
} from "./tune.js";
export { cutMarker, type DryRunEstimate } from "./dry-run.js";
export { dataWarnings, createTuneTask, tuneSettings } from "./prepare.js";
export { progressLines, etaSeconds, formatDuration, type ProgressLineOptions } from "./progress.js";
export { mapColumns, COLUMN_ALIASES, type GuessedColumns } from "./data/columns.js";
export { chooseNamedChatTemplate, noChatTemplateError, CHAT_TEMPLATE_NAMES } from "./chat-template-choice.js";
export { exportModel, checkExportQuant, type ExportOptions, type ExportResult } from "./export/export.js";
export { exportEncoder, isEncoderModel, type EncoderExportOptions, type SavedEncoder } from "./export/encoder.js";
export { exportType, useMoreBits, EXPORT_QUANTS, type ExportQuant } from "./export/mix.js";
export { modelfile, translateTemplate, type TemplateFamily } from "./export/modelfile.js";
export {
  resolveTuneOptions,
  TuneOptionsSchema,
  TuneConfigSchema,
  DatasetSourceSchema,
  TUNE_DEFAULTS,
  tuneFlag,
  type TuneOptions,
  type TuneConfig,
  type ResolvedTuneOptions,
  type BaseQuant,
} from "./options.js";
export { runTraining, type LoopOptions, type LoopSettings, type TrainResult, type GradStep } from "./trainer.js";
export type {
  TrainingTask,
  TaskReplica,
  ParallelTask,
  TaskDescription,
  ReplicaFactory,
  EvalMetrics,
  Share,
} from "./task.js";
export { registerTaskKind } from "./task-kinds.js";
export {
  LoraTask,
  LoraReplica,
  evalLoss,
  createLoraReplica,
  type LoraTaskInput,
  type LoraTaskInit,
} from "./lora-task.js";
export {
  loadRecords,
  readRecords,
  skippedSummary,
  type SkipReport,
  type SkippedRecord,
  type LoadOptions,
  type TrainRecord,
  type DatasetSource,
  type DatasetFormat,
  type ColumnMap,
} from "./data/records.js";
export { resolveTemplate, fileTemplate, type Template, type TemplateName, type Segment } from "./data/templates.js";
export {
  encodeRecord,
  encodeRecords,
  packExamples,
  promptIds,
  IGNORE,
  type Example,
  type EncodeStats,
} from "./data/encode.js";
export { splitExamples, capExamples, epochBatches, collate, permutation, type BatchLimits } from "./data/batches.js";
export {
  saveCheckpoint,
  loadCheckpoint,
  latestCheckpoint,
  settingsDiff,
  type LoopState,
  type Checkpoint,
  type Settings,
} from "./checkpoint.js";
export { logScale } from "./loss-plot.js";
export { MetricsLog, lossSvg, type MetricLine } from "./metrics.js";
export { mergeAdapter, type MergeResult } from "./merge.js";
