// The store seam: a named collection of embedded chunks with dense and full-text search and
// one atomic `commit`. LanceDB on local disk implements it; a server-based store can too.
import type { SplitterSettings } from "../split/index.js";
import type { Chunk, MetadataFilter } from "../types.js";

/** Full-text (BM25) analyzer settings, fixed per collection. */
export interface FtsSettings {
  language: string;
  stem: boolean;
  removeStopWords: boolean;
  lowercase: boolean;
  asciiFolding: boolean;
}

export const DEFAULT_FTS: FtsSettings = {
  language: "English",
  stem: true,
  removeStopWords: true,
  lowercase: true,
  asciiFolding: true,
};

/** One ingested unit of change: a file, or one record of `ingestRecords`. */
export interface IngestedUnit {
  /** Where it came from: the ingested root folder, or the records' source name. */
  root: string;
  /** sha256 of the file bytes or record content; unchanged hash → untouched on re-ingest. */
  hash: string;
  chunks: number;
  ingestedAt: string;
}

/** What lives with a collection (collection.json) and is swapped atomically on commit. */
export interface CollectionManifest {
  format: 1;
  name: string;
  embedder: { id: string; spec: string; dimension: number };
  splitter: SplitterSettings;
  fts: FtsSettings;
  createdAt: string;
  updatedAt: string;
  /** The store version readers see; a write not yet committed is invisible. */
  tableVersion: number;
  chunks: number;
  /** Keyed by unit key: the file's source path, or `source#doc_id` for records. */
  units: Record<string, IngestedUnit>;
}

/** A chunk ready to store: its vector, its text hash (the embedding cache key) and its unit. */
export interface StoredChunk extends Chunk {
  vector: Float32Array;
  textHash: string;
  unitKey: string;
}

export interface ScoredChunk {
  chunk: Chunk;
  /** Cosine similarity for dense search, BM25 for full-text. */
  score: number;
}

export interface SearchOptions {
  topK: number;
  filter?: MetadataFilter;
}

/** A change applied all-or-nothing: units removed, chunks added, manifest units updated. */
export interface CollectionChange {
  removeUnits: string[];
  add: StoredChunk[];
  units: Record<string, IngestedUnit | null>;
}

export interface CommitOptions {
  signal?: AbortSignal;
  /** Called after each batch of rows is written (rows written so far). */
  onStored?: (rows: number) => void;
}

export interface CompactReport {
  collection: string;
  versionsRemoved: number;
  bytesRemoved: number;
  fragmentsRemoved: number;
  fragmentsAdded: number;
}

export interface CollectionStore {
  readonly manifest: CollectionManifest;
  count(): Promise<number>;
  searchDense(vector: Float32Array, options: SearchOptions): Promise<ScoredChunk[]>;
  searchText(query: string, options: SearchOptions): Promise<ScoredChunk[]>;
  /** Stored vectors for chunk text hashes already in the collection (the embedding cache). */
  vectorsByHash(hashes: string[]): Promise<Map<string, Float32Array>>;
  /** Applies a change atomically: on any failure (or abort) the previous state stays readable. */
  commit(change: CollectionChange, options?: CommitOptions): Promise<CollectionManifest>;
  /** Compacts storage and drops versions older than the committed one (never the committed one). */
  compact(): Promise<CompactReport>;
  /** Chunks of one unit, for `collections show` and tests. */
  chunksOf(unitKey: string): Promise<Chunk[]>;
  close(): void;
}
