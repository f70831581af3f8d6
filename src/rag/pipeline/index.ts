// The RAG pipeline's public surface: ingest, ask, chat, the inference log and model specs.
export {
  ingestPath,
  ingestRecords,
  ingestSources,
  type IngestOptions,
  type IngestPathOptions,
  type IngestRecord,
  type IngestRecordsOptions,
  type IngestReport,
} from "./ingest.js";
export { ask, askBody, askStore, recipeRetriever, openAskCollections, type AskOptions, type AskResult } from "./ask.js";
export { ChatSession, lexicalFollowUp, type ChatTurn } from "./chat.js";
export { removeSources, type RemoveSourcesOptions, type RemoveSourcesReport } from "./remove.js";
export { appendInferenceLog, defaultLogFile, type InferenceLogEntry } from "./log.js";
export {
  resolveEmbedder,
  resolveChatModel,
  collectionEmbedder,
  specString,
  DEFAULT_EMBEDDER_SPEC,
  type ChatModelChoice,
} from "./models.js";
