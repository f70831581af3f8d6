// Contrastive fine-tuning of embedding encoders (`infuse embed tune`). Re-exports only.
export {
  tuneEmbedder,
  planEmbedTune,
  EMBED_CONFIG_FILE,
  MODEL_DIR,
  type EmbedTunePlan,
  type EmbedTuneResult,
  type EmbedTuneRunOptions,
} from "./tune.js";
export {
  EmbedTuneOptionsSchema,
  EMBED_TUNE_DEFAULTS,
  resolveEmbedTuneOptions,
  embedTuneFlag,
  type EmbedTuneOptions,
  type ResolvedEmbedTuneOptions,
} from "./options.js";
export { badPairLine, checkPair, readPairs, readTrainingPairs, toPair, type EmbedPair, type Pair } from "./pairs.js";
export { contrastiveLayout, infoNce, l2Normalize, targetRanks, MASKED, type ContrastiveLayout } from "./loss.js";
export { TextEncoder, lengthChunks, type EmbedSettings } from "./encode.js";
export {
  ContrastiveTask,
  ContrastiveReplica,
  createContrastiveReplica,
  attachEncoderLora,
  type ContrastiveSettings,
  type ContrastiveTaskInput,
  type EmbedWork,
  type LoraSettings,
} from "./task.js";
