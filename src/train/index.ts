// train/: the shared training loop and its task seam, LoRA/QLoRA fine-tuning of Llama-family models as
// its first task: datasets, templates, checkpoints, workers, metrics, merging. Re-exports only.
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
} from "./tune.js";
export {
  resolveTuneOptions,
  TuneOptionsSchema,
  TuneConfigSchema,
  DatasetSourceSchema,
  TUNE_DEFAULTS,
  defaultGradientCheckpointing,
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
export { splitExamples, epochBatches, collate, permutation, type BatchLimits } from "./data/batches.js";
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, type LoopState, type Checkpoint } from "./checkpoint.js";
export { MetricsLog, lossSvg, type MetricLine } from "./metrics.js";
export { mergeAdapter, type MergeResult } from "./merge.js";
