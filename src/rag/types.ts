// The typed units a RAG pipeline composes (load → split → embed → store → retrieve → generate).
// Each stage has one job and is swapped by configuration; these are the seams between them.
import type { TaskOptions } from "../core/progress.js";
import type { ChatMessage } from "../tokenizers/chat.js";

/** Metadata values that every store can filter on. */
export type MetadataValue = string | number | boolean;

/** A loaded document (or one page of it), before splitting. */
export interface LoadedDocument {
  /** Path of the file, relative to the ingested root (POSIX separators). */
  source: string;
  text: string;
  /** 1-based page number for paged formats (PDF). */
  page?: number;
  metadata: Record<string, MetadataValue>;
}

/** A piece of a document that is embedded, stored and cited. */
export interface Chunk {
  /** Stable id: derived from source, page and offsets, so re-ingesting an unchanged file gives the same ids. */
  id: string;
  text: string;
  source: string;
  page?: number;
  /** Markdown/HTML heading path, outermost first. */
  headingPath?: string[];
  /** Character offsets of `text` in the loaded document text. */
  start: number;
  end: number;
  metadata: Record<string, MetadataValue>;
}

/** Turns text into vectors. Queries and passages may be embedded differently (instruction prefixes). */
export interface Embedder {
  /** Identifies the model and settings; cached vectors are keyed by it. */
  readonly id: string;
  /** Vector length; known after the first call or from the model config. */
  dimension(): Promise<number>;
  embedQueries(texts: string[], options?: TaskOptions): Promise<Float32Array[]>;
  embedPassages(texts: string[], options?: TaskOptions): Promise<Float32Array[]>;
  /** The model's tokenizer as a token counter, for token-based splitting; optional. */
  tokenizer?(): Promise<TokenCounter>;
  dispose?(): Promise<void>;
}

/** Counts the tokens a model sees in a text (token-based splitting sizes chunks with it). */
export interface TokenCounter {
  countTokens(text: string): number;
}

/** One turn of a chat (tokenizers/ defines it: chat templates and training data use the same type). */
export type { ChatMessage, ChatRole } from "../tokenizers/chat.js";

/** Options of one ChatModel.chat call. */
export interface ChatOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  signal?: AbortSignal;
  /**
   * Called once the model has answered, with the token counts its backend reports: the prompt as the
   * model saw it (chat template and, for a RAG answer, the retrieved passages included). Not called by
   * a backend that reports none, or when the generation fails or is cancelled.
   */
  onUsage?: (usage: ChatUsage) => void;
}

export interface ChatUsage {
  promptTokens: number;
  /** Generated tokens, where the backend counts them (the server counts streamed pieces otherwise). */
  completionTokens?: number;
}

/** A chat LLM: local GGUF, OpenAI-compatible or Ollama. Streams text pieces. */
export interface ChatModel {
  readonly id: string;
  chat(messages: ChatMessage[], options?: ChatOptions): AsyncIterable<string>;
  /**
   * Continues `prompt` as raw text: no chat template, the model's BOS rule (OpenAI's legacy
   * completions). Every backend infuse ships has it; a model without it (a caller's own) gets a
   * completion as one user turn.
   */
  complete?(prompt: string, options?: ChatOptions): AsyncIterable<string>;
  dispose?(): Promise<void>;
}

/** Equality filters on metadata, AND-ed; `source` and `page` filter the chunk fields. */
export type MetadataFilter = Record<string, MetadataValue | MetadataValue[]>;

export interface RetrieveOptions {
  topK: number;
  filter?: MetadataFilter;
  signal?: AbortSignal;
}

/** A retrieved chunk with its score and the retriever(s) that found it. */
export interface Hit {
  chunk: Chunk;
  score: number;
  /** e.g. "dense", "bm25", "hybrid(rrf)". */
  retriever: string;
  /** Per-retriever rank (1-based) and score, for fused results. */
  sources?: Record<string, { rank: number; score: number }>;
}

export interface Retriever {
  readonly name: string;
  retrieve(query: string, options: RetrieveOptions): Promise<Hit[]>;
}
