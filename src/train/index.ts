// train/: LoRA/QLoRA fine-tuning of Llama-family models: datasets, templates, the loop, checkpoints,
// metrics, merging. Re-exports only.
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
  TUNE_DEFAULTS,
  defaultGradientCheckpointing,
  type TuneOptions,
  type ResolvedTuneOptions,
  type BaseQuant,
} from "./options.js";
export {
  train,
  evalLoss,
  localGradStep,
  type TrainSettings,
  type TrainResult,
  type TrainInput,
  type GradStep,
} from "./trainer.js";
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
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, type LoopState } from "./checkpoint.js";
export { MetricsLog, lossSvg, type MetricLine } from "./metrics.js";
export { mergeAdapter, type MergeResult } from "./merge.js";
