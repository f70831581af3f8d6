// The write side of ingest: prepared units gather into a batch that is embedded (each distinct
// chunk text once; vectors already stored are reused by content hash) and committed atomically
// when it reaches `batchSize` units or `batchChunks` chunks. A unit never spans two commits.
import { createHash } from "node:crypto";
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import { throttledProgress, type ProgressListener, type TaskOptions } from "../../core/progress.js";
import type { CollectionStore, IngestedUnit, StoredChunk, WriteLock } from "../store/index.js";
import type { Chunk, Embedder } from "../types.js";

export const DEFAULT_BATCH_UNITS = 1000;
export const DEFAULT_BATCH_CHUNKS = 10_000;
export const DEFAULT_EMBED_BATCH = 64;

export interface PreparedUnit {
  key: string;
  root: string;
  hash: string;
  chunks: Chunk[];
}

export interface BatchOptions extends TaskOptions {
  embedder: Embedder;
  batchSize?: number;
  batchChunks?: number;
  embedBatchSize?: number;
  /** The collection's writer lock, if the caller holds it across all its batches. */
  lock?: WriteLock;
  /** Each commit waits for the lock and lands on the latest revision (CommitOptions.rebase). */
  rebase?: boolean;
}

/** What the batches committed, summed over the run. */
export interface BatchTotals {
  added: string[];
  updated: string[];
  removed: string[];
  chunksAdded: number;
  chunksTotal: number;
  embedded: number;
  cached: number;
  embeddedTokens?: number;
  batches: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

type Tokenizer = Awaited<ReturnType<NonNullable<Embedder["tokenizer"]>>>;

export const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

export class BatchWriter {
  readonly totals: BatchTotals;
  #pending: PreparedUnit[] = [];
  #pendingChunks = 0;
  #committedUnits = 0;
  readonly #store: CollectionStore;
  readonly #options: BatchOptions;
  readonly #tokenizer: Tokenizer | undefined;
  readonly #embedProgress: ProgressListener;

  private constructor(store: CollectionStore, options: BatchOptions, tokenizer: Tokenizer | undefined) {
    this.#store = store;
    this.#options = options;
    this.#tokenizer = tokenizer;
    this.#embedProgress = throttledProgress(options.onProgress);
    this.totals = {
      added: [],
      updated: [],
      removed: [],
      chunksAdded: 0,
      chunksTotal: store.manifest.chunks,
      embedded: 0,
      cached: 0,
      ...(tokenizer ? { embeddedTokens: 0 } : {}),
      batches: 0,
    };
  }

  static async open(store: CollectionStore, options: BatchOptions): Promise<BatchWriter> {
    return new BatchWriter(store, options, await options.embedder.tokenizer?.());
  }

  /** Queues a unit; commits the batch when it is full. */
  async add(unit: PreparedUnit): Promise<void> {
    this.#pending.push(unit);
    this.#pendingChunks += unit.chunks.length;
    const full =
      this.#pending.length >= (this.#options.batchSize ?? DEFAULT_BATCH_UNITS) ||
      this.#pendingChunks >= (this.#options.batchChunks ?? DEFAULT_BATCH_CHUNKS);
    if (full) await this.flush([]);
  }

  /** Commits what is queued and `removed`; `final` also creates a new, still empty collection. */
  async flush(removed: string[], final = false): Promise<void> {
    const manifest = this.#store.manifest;
    const units = this.#pending;
    const create = final && manifest.revision === 0 && this.totals.batches === 0;
    if (units.length === 0 && removed.length === 0 && !create) return;
    throwIfAborted(this.#options.signal, "ingest");
    const chunks = units.flatMap((u) => u.chunks.map((c) => ({ chunk: c, unitKey: u.key, textHash: sha256(c.text) })));
    const vectors = await this.#embed(chunks.map((c) => ({ hash: c.textHash, text: c.chunk.text })));
    const now = new Date().toISOString();
    const updatedUnits: Record<string, IngestedUnit | null> = Object.fromEntries(removed.map((k) => [k, null]));
    for (const u of units)
      updatedUnits[u.key] = { root: u.root, hash: u.hash, chunks: u.chunks.length, ingestedAt: now };
    const add: StoredChunk[] = chunks.map((c) => ({
      ...c.chunk,
      unitKey: c.unitKey,
      textHash: c.textHash,
      vector: vectors.get(c.textHash)!,
    }));
    const replaced = units.filter((u) => manifest.units[u.key]).map((u) => u.key);
    const done = this.#committedUnits;
    // units another writer committed with the same content meanwhile (rebase): not ours to count
    let skipped = new Set<string>();
    const committed = await this.#store.commit(
      { removeUnits: [...replaced, ...removed], add, units: updatedUnits },
      {
        ...(this.#options.signal ? { signal: this.#options.signal } : {}),
        ...(this.#options.lock ? { lock: this.#options.lock } : {}),
        ...(this.#options.rebase ? { rebase: true, onSkipped: (keys) => (skipped = new Set(keys)) } : {}),
        onStored: (rows) =>
          this.#options.onProgress?.({ task: "store", done: rows, total: add.length, unit: "chunks" }),
      },
    );
    this.#pending = [];
    this.#pendingChunks = 0;
    this.#committedUnits += units.length;
    const t = this.totals;
    // loops, not push(...): a removal list can hold every file of a large folder (stack overflow)
    for (const u of units) if (!manifest.units[u.key] && !skipped.has(u.key)) t.added.push(u.key);
    for (const key of replaced) if (!skipped.has(key)) t.updated.push(key);
    for (const key of removed) t.removed.push(key);
    t.chunksAdded += add.filter((c) => !skipped.has(c.unitKey)).length;
    t.chunksTotal = committed.chunks;
    t.batches++;
    this.#options.onProgress?.({
      task: "commit",
      done: done + units.length,
      unit: "files",
      note: `batch ${t.batches}: ${plural(units.length, "unit")}, ${plural(add.length, "chunk")}${removed.length ? `, ${removed.length} removed` : ""}`,
    });
  }

  /** Vectors for every text hash: stored ones reused, the rest embedded once each. */
  async #embed(texts: { hash: string; text: string }[]): Promise<Map<string, Float32Array>> {
    const { embedder, signal } = this.#options;
    const dimension = this.#store.manifest.embedder.dimension;
    const vectors = await this.#store.vectorsByHash([...new Set(texts.map((t) => t.hash))]);
    this.totals.cached += texts.filter((t) => vectors.has(t.hash)).length;
    const todo = [...new Map(texts.filter((t) => !vectors.has(t.hash)).map((t) => [t.hash, t.text])).entries()];
    const size = this.#options.embedBatchSize ?? DEFAULT_EMBED_BATCH;
    const start = this.totals.embedded;
    for (let i = 0; i < todo.length; i += size) {
      throwIfAborted(signal, "ingest");
      const batch = todo.slice(i, i + size);
      const out = await embedder.embedPassages(
        batch.map(([, text]) => text),
        signal ? { signal } : {},
      );
      batch.forEach(([hash, text], j) => {
        const v = out[j];
        if (!v || v.length !== dimension) {
          throw new InfuseError(
            "rag.embedder_output",
            `embedder ${embedder.id} returned ${v?.length ?? "no"} dims, expected ${dimension}`,
            { kind: "internal" },
          );
        }
        vectors.set(hash, v);
        if (this.#tokenizer) this.totals.embeddedTokens! += this.#tokenizer.countTokens(text);
      });
      this.totals.embedded = start + Math.min(todo.length, i + size);
      this.#embedProgress({
        task: "embed",
        done: Math.min(todo.length, i + size),
        total: todo.length,
        unit: "chunks",
        note: `batch ${this.totals.batches + 1}`,
      });
    }
    return vectors;
  }
}
