// The library's public API: this file only re-exports.
export { InfuseError, isInfuseError, type ErrorKind } from "./core/errors.js";
export type { ProgressEvent, ProgressListener, TaskOptions } from "./core/progress.js";
export { loadConfig, parseConfig, type ResolvedConfig, type ConfigFile } from "./core/config.js";
export { runDoctor, type DoctorReport } from "./core/doctor.js";
export { VERSION } from "./core/version.js";
export * as tensor from "./tensor/index.js";
export * as formats from "./formats/index.js";
export * as tokenizers from "./tokenizers/index.js";
export {
  openGguf,
  writeGguf,
  dequantize,
  quantize,
  GgmlType,
  kv,
  type GgufFile,
  type GgufTensorInfo,
} from "./formats/gguf/index.js";
export { openSafetensors, writeSafetensors, convertHfToGguf, inspectGguf, type ModelReport } from "./formats/index.js";
export { loadTokenizer, applyChatTemplate, type Tokenizer, type ChatMessage } from "./tokenizers/index.js";
export {
  createEmbedder,
  ModelEmbedder,
  presetFor,
  type CreateEmbedderOptions,
  type EmbedBackend,
  type EmbedSettings,
  type Pooling,
} from "./rag/embed/index.js";
export {
  createChatModel,
  chatModelSpec,
  parseEndpointSpec,
  EngineChatModel,
  type EngineChatOptions,
  GgufChatModel,
  OllamaChatModel,
  OpenAIChatModel,
  type CreateChatModelOptions,
} from "./rag/llm/index.js";
export type { EndpointSpec } from "./core/config.js";
export {
  ingestPath,
  ingestRecords,
  ingestSources,
  ask,
  ChatSession,
  removeSources,
  resolveEmbedder,
  resolveChatModel,
  DEFAULT_EMBEDDER_SPEC,
  type RemoveSourcesOptions,
  type RemoveSourcesReport,
  type IngestOptions,
  type IngestPathOptions,
  type IngestRecord,
  type IngestRecordsOptions,
  type IngestReport,
  type AskOptions,
  type AskResult,
  type ChatTurn,
  type InferenceLogEntry,
} from "./rag/pipeline/index.js";
export { IngestSettingsSchema, ingestSettings, type IngestSettings } from "./rag/pipeline/ingest-options.js";
export {
  RecipeSchema,
  parseRecipe,
  readRecipeFile,
  mergeRecipes,
  resolveRecipe,
  parseRecipeShorthand,
  recipeName,
  buildRecipeRetriever,
  rerankerLoader,
  type Recipe,
  type ResolvedRecipe,
  type RecipeContext,
  type RecipeRetriever,
  type TracedRetrieval,
  type StageTrace,
} from "./rag/recipe/index.js";
export {
  loadFile,
  findFiles,
  registerLoader,
  loaderFor,
  type Loader,
  type LoadItem,
  type LoadContext,
  type LoadedFile,
  type LoadWarning,
  type TabularOptions,
} from "./rag/load/index.js";
export {
  folderSource,
  bytesSource,
  uploadSource,
  recordsSource,
  type Source,
  type SourceStream,
  type Upload,
} from "./rag/source/index.js";
export {
  crawlConfig,
  readCrawlConfig,
  crawlSource,
  crawlSite,
  crawlInit,
  CrawlConfigSchema,
  type CrawlConfig,
  type CrawlReport,
  type CrawlSiteReport,
} from "./rag/source/crawl/index.js";
export { Splitter, type SplitterSettings, type SplitterKind } from "./rag/split/index.js";
export { HashingEmbedder } from "./rag/embed/hashing.js";
export {
  storeProvider,
  LanceDbStoreProvider,
  type StoreProvider,
  type WriteLock,
  type CollectionInit,
  type CollectionStore,
  type CollectionManifest,
  type CollectionSummary,
  type FtsSettings,
} from "./rag/store/index.js";
export {
  createRetriever,
  fuse,
  DenseRetriever,
  Bm25Retriever,
  HybridRetriever,
  type RetrievalMode,
  type FusionMethod,
} from "./rag/retrieve/index.js";
export { buildAnswerPrompt, type AnswerPrompt } from "./rag/generate/prompt.js";
export { checkCitations, type CitationCheck } from "./rag/generate/citations.js";
export { extractiveAnswer } from "./rag/generate/extractive.js";
export type * from "./rag/types.js";
export {
  evaluateQuery,
  evaluateRun,
  trecSort,
  type Qrels,
  type Run,
  type ScoredDoc,
  type MetricOptions,
  type RunMetrics,
} from "./eval/metrics.js";
export { parseQrels, loadQrels } from "./eval/qrels.js";
export { loadBeir, readBeirCorpus, type BeirDataset, type BeirDocument, type BeirQuery } from "./eval/beir.js";
export { ingestBeirCorpus } from "./eval/beir-collection.js";
export { runRetrieval, evaluateRetriever, type RetrievalResult, type RunRetrievalOptions } from "./eval/retrieval.js";
export { evaluateRetrievalConfigs, type RetrievalReport, type RetrievalEvalOptions } from "./eval/run-retrieval.js";
export {
  evaluateAnswers,
  ANSWER_SETTINGS,
  type AnswerSetting,
  type AnswersConfiguration,
  type AnswersReport,
  type AnswersEvalOptions,
} from "./eval/run-answers.js";
export {
  exactMatch,
  tokenF1,
  rougeL,
  normalizeAnswer,
  embeddingSimilarity,
  isAbstention,
  scoreAnswer,
} from "./eval/answers.js";
export { LlmJudge, parseJudgment, type Judgment, type JudgeCriterion } from "./eval/judge.js";
export { loadQaData, type QaItem } from "./eval/qa-data.js";
export { renderHtmlReport, renderMetricsHtml } from "./eval/report-html.js";
export { RerankingRetriever, type Reranker } from "./rag/rerank/reranker.js";
export { CrossEncoderReranker } from "./rag/rerank/cross-encoder.js";
export { LlmReranker } from "./rag/rerank/llm.js";
export { Rm3Retriever, rm3Expand, type WeightedTerm } from "./rag/expand/rm3.js";
export { englishAnalyzer, type Analyzer } from "./rag/expand/analyzer.js";
export { buildTermStatistics, type TermStatistics } from "./rag/expand/term-stats.js";
export { MultiQueryRetriever, HydeRetriever, AnswerAsQueryRetriever } from "./rag/expand/llm-query.js";
export {
  CompressingRetriever,
  EmbeddingCompressor,
  LlmExtractor,
  compressHits,
  type Compressor,
} from "./rag/compress/compress.js";
export { MmrRetriever, mmrSelect } from "./rag/multi/mmr.js";
export { MultiIndexRetriever, type IndexSource, type Routing } from "./rag/multi/multi-index.js";
export { ExpandingRetriever, type ExpandMode } from "./rag/multi/window.js";
export {
  generateQueries,
  mineNegatives,
  offlinePairs,
  qrelPairs,
  readPairs,
  writePairs,
  readPassages,
  passageText,
  MineOptionsSchema,
  QueryOptionsSchema,
  type GenerateQueriesOptions,
  type GenerateQueriesResult,
  type MineOptions,
  type MineResult,
  type MineStats,
  type Pair,
  type Passage,
  type QrelData,
} from "./rag/embed-data/index.js";
export {
  tune,
  dryRunTune,
  mergeAdapter,
  exportModel,
  exportEncoder,
  type EncoderExportOptions,
  type SavedEncoder,
  type ExportOptions,
  type ExportResult,
  type ExportQuant,
  resolveTuneOptions,
  TuneOptionsSchema,
  runTraining,
  registerTaskKind,
  loadRecords,
  readRecords,
  resolveTemplate,
  type TrainingTask,
  type TaskReplica,
  type EvalMetrics,
  type LoopOptions,
  type TrainResult,
  type TuneOptions,
  type TuneRunOptions,
  type TuneResult,
  type DryRunReport,
  type MergeResult,
  type DatasetSource,
  type TrainRecord,
  type SkipReport,
} from "./train/index.js";
export {
  tuneEmbedder,
  planEmbedTune,
  resolveEmbedTuneOptions,
  EmbedTuneOptionsSchema,
  ContrastiveTask,
  infoNce,
  type EmbedTuneOptions,
  type EmbedTuneResult,
  type EmbedTuneRunOptions,
  type EmbedTunePlan,
  type ContrastiveSettings,
} from "./train/embed/index.js";
export {
  loadLlama,
  LlamaModel,
  LlamaDecoder,
  Linear,
  Sampler,
  generate,
  streamGenerate,
  encodeChat,
  chooseChatTemplate,
  readAdapterChatTemplate,
  CHAT_TEMPLATE_FILE,
  SUPPORTED_ARCHITECTURES,
  type LinearAdapter,
  type LlamaConfig,
  type LoadedLlama,
  type GenerateOptions,
  type GenerationResult,
  type SamplingOptions,
} from "./models/index.js";
export { attachLora, loadLora, writeLoraFiles, LoraAdapter, LoraSet, type AttachOptions } from "./models/lora/index.js";
export {
  startServer,
  createApp,
  ServeOptionsSchema,
  parseServeOptions,
  type RunningServer,
  type StartServerOptions,
  type ServeOptions,
} from "./server/index.js";
