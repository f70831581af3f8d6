// Training data for embedding fine-tuning: pairs files (FlagEmbedding JSONL), offline pairs (title,
// inverse cloze), pairs from relevance judgments, LLM-written queries, and mined hard negatives.
export { checkPair, pairLine, pairsWriter, readPairs, writePairs, type Pair, type PairsWriter } from "./pairs.js";
export { collectionPassages, loadPassages, passageText, readPassages, textId, type Passage } from "./passages.js";
export { offlinePairs, offlinePairsOf, type OfflinePairOptions } from "./offline.js";
export { qrelPairs, type QrelData, type QrelPairOptions, type QrelPairsResult } from "./qrels.js";
export { corpusPassages, miningCollectionName, type CorpusInput } from "./corpus.js";
export { mineNegatives, type MineOptions, type MineResult, type MineStats } from "./mine.js";
export {
  MINE_RETRIEVERS,
  MineOptionsSchema,
  QueryOptionsSchema,
  parseRange,
  type MineRetriever,
  type MineOptionsInput,
  type QueryOptions,
} from "./options.js";
export {
  generateQueries,
  type GenerateQueriesOptions,
  type GenerateQueriesResult,
  type MalformedAnswer,
} from "./queries.js";
export { defaultPromptFile, loadPromptTemplate, parseAnswer, renderPrompt } from "./prompt.js";
