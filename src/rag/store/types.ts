// The store seam: a provider of named collections (open, create, list, delete, lock), each a
// set of embedded chunks with dense and full-text search and one atomic `commit`. LanceDB on
// local disk implements it; a server store (Postgres) will too, passing the same conformance suite.
import type { EndpointSpec } from "../../core/config.js";
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

/** The embedder a collection was built with. */
export interface CollectionEmbedder {
  id: string;
  /** How to recreate it: "hash-512", a model reference, or `provider:model` for a remote one. */
  spec: string;
  /** A remote embedder's whole spec (provider, model, base URL; never an API key). */
  endpoint?: EndpointSpec;
  dimension: number;
}

/** How CSV/JSON/JSONL rows were read into a collection: its columns, kept for re-ingests. */
export interface TabularSettings {
  textColumn?: string;
  idColumn?: string;
}

/** What lives with a collection and is swapped atomically on commit (neutral of the provider). */
export interface CollectionManifest {
  format: 2;
  name: string;
  embedder: CollectionEmbedder;
  splitter: SplitterSettings;
  fts: FtsSettings;
  /** The tabular columns of the last ingest that named any (absent: the loaders' defaults). */
  tabular?: TabularSettings;
  createdAt: string;
  updatedAt: string;
  /** Commits so far: 0 until the first commit; readers see the committed revision only. */
  revision: number;
  chunks: number;
  /** Keyed by unit key: the file's source path, or `source#doc_id` for records. */
  units: Record<string, IngestedUnit>;
  /** The approximate-nearest-neighbour index over the vectors, once the collection grew past the size that builds one. */
  vectorIndex?: VectorIndexInfo;
}

/** An ANN index as the manifest records it (provider-neutral: each provider names its own parameters). */
export interface VectorIndexInfo {
  /** e.g. "ivf_pq", "ivf_hnsw_sq" (LanceDB), "hnsw" (pgvector). */
  kind: string;
  metric: "cosine";
  /** Build parameters (partitions, sub_vectors, bits, m, ef_construction…). */
  params: Record<string, number>;
  /** Search parameters every query uses (nprobes, refine_factor, ef…). */
  search: Record<string, number>;
  /** Rows the index was trained on. */
  rows: number;
  builtAt: string;
  buildSeconds: number;
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
  /** The collection's writer lock, already held by the caller (from `StoreProvider.lock`). */
  lock?: WriteLock;
  /** Called after each batch of rows is written (rows written so far). */
  onStored?: (rows: number) => void;
  /**
   * Concurrent writers: wait for the writer lock (instead of `rag.collection_busy`), adopt whatever
   * revision another writer committed meanwhile (instead of `rag.collection_changed`) and replay the
   * change onto it by content hash (manifest.ts rebaseChange): units already stored with the same
   * hash are left as they are, so several writers of one collection lose and duplicate nothing.
   */
  rebase?: boolean;
  /** With `rebase`: told the units of the change that were already stored with the same content. */
  onSkipped?: (units: string[]) => void;
}

export interface CompactReport {
  collection: string;
  versionsRemoved: number;
  bytesRemoved: number;
  fragmentsRemoved: number;
  fragmentsAdded: number;
}

/** A collection opened at its committed revision; reads never see later or half-done writes. */
export interface CollectionStore {
  readonly manifest: CollectionManifest;
  count(): Promise<number>;
  searchDense(vector: Float32Array, options: SearchOptions): Promise<ScoredChunk[]>;
  searchText(query: string, options: SearchOptions): Promise<ScoredChunk[]>;
  /** Stored vectors for chunk text hashes already in the collection (the embedding cache). */
  vectorsByHash(hashes: string[]): Promise<Map<string, Float32Array>>;
  /**
   * Applies a change atomically under the writer lock and increments the revision: on any
   * failure (or abort) the previous revision stays readable. `rag.collection_busy` if another
   * writer holds the lock, `rag.collection_changed` if another commit landed since this opened.
   */
  commit(change: CollectionChange, options?: CommitOptions): Promise<CollectionManifest>;
  /** Compacts storage and drops versions older than the committed one; data and revision stay. */
  compact(): Promise<CompactReport>;
  /** Chunks of one unit, for `collections show` and tests. */
  chunksOf(unitKey: string): Promise<Chunk[]>;
  close(): void;
}

/** What a new collection is made with; an existing one must match it. */
export interface CollectionInit {
  embedder: { id: string; spec: string | EndpointSpec; dimension: number };
  splitter: SplitterSettings;
  fts?: Partial<FtsSettings>;
  /** Tabular columns to record; unlike the others they may change (rows are read again). */
  tabular?: TabularSettings;
}

export interface CollectionSummary {
  name: string;
  embedder: string;
  dimension: number;
  splitter: string;
  chunks: number;
  units: number;
  createdAt: string;
  updatedAt: string;
}

/** A collection whose manifest cannot be read: listed apart, deletable, maybe repairable. */
export interface DamagedCollection {
  name: string;
  /** The error reading it gave (`rag.collection_corrupt`, `rag.collection_unreadable`). */
  error: string;
  message: string;
  hint: string;
}

/** What `repair` did: nothing (healthy), or a manifest rebuilt from what survived. */
export interface RepairReport {
  collection: string;
  /** `healthy`: nothing to do; `repaired`: a new collection.json was written. */
  status: "healthy" | "repaired";
  revision: number;
  tableVersion: number;
  chunks: number;
  units: number;
  /** Files whose record was lost (hash unknown): the next ingest of their folder embeds them again. */
  unitsReset: number;
  /** What was read from the damaged file, what from the table, and what could not be known. */
  notes: string[];
}

/** A collection's writer lock: one writer per collection, across processes. */
export interface WriteLock {
  readonly collection: string;
  /** The provider it was taken from (`StoreProvider.describe()`). */
  readonly store: string;
  readonly held: boolean;
  release(): Promise<void>;
}

/** Where collections live: one implementation per backend, chosen by the config's `store`. */
export interface StoreProvider {
  /** A short id for messages, such as `lancedb:/home/me/.infuse/collections`. */
  describe(): string;
  /** Committed collections that read fine, by name (damaged ones are in `damaged()`). */
  list(): Promise<CollectionSummary[]>;
  /** Collections whose manifest exists but cannot be read, with why. */
  damaged(): Promise<DamagedCollection[]>;
  /** The committed manifest, or undefined if the collection does not exist. */
  manifest(name: string): Promise<CollectionManifest | undefined>;
  /** The manifest; `rag.collection_not_found` (with the existing names) if absent. */
  requireManifest(name: string): Promise<CollectionManifest>;
  /** An existing collection at its committed revision; `rag.collection_not_found` if absent. */
  open(name: string): Promise<CollectionStore>;
  /**
   * A collection for writing: the existing one (which must match `init`'s embedder, splitter and
   * analyzer) or a new one that exists only once its first commit lands.
   */
  openOrCreate(name: string, init: CollectionInit): Promise<CollectionStore>;
  /** Deletes a collection, damaged or not (under its writer lock); `rag.collection_not_found` if absent. */
  delete(name: string): Promise<void>;
  /**
   * Rebuilds a damaged collection's manifest from what survives (`healthy` if it reads fine);
   * `rag.repair_impossible`, saying how to recover, where too little survives.
   */
  repair(name: string): Promise<RepairReport>;
  /** Takes the writer lock, for a writer that commits several times (pass it as `CommitOptions.lock`). */
  lock(name: string): Promise<WriteLock>;
  compact(name: string): Promise<CompactReport>;
  close(): Promise<void>;
}
