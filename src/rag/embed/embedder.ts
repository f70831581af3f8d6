// What every model-backed embedder shares: instruction prefixes for queries and passages,
// batching with progress and cancellation between batches, L2 normalisation, and the id
// the store caches vectors by. A backend only turns a batch of (prefixed) texts into vectors.
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import type { Embedder, TokenCounter } from "../types.js";

export type Pooling = "mean" | "cls";

/** A model that embeds one batch of texts; pooling, if any, is the backend's business. */
export interface EmbedBackend {
  /** The model, e.g. "onnx:/models/bge-small" or "openai:text-embedding-3-small@https://…/v1". */
  readonly id: string;
  /** How many texts go into one call. */
  readonly batchSize: number;
  /** The pooling the backend applies, when the caller chose it (it becomes part of the id). */
  readonly pooling?: Pooling;
  /** Vector length when the model says it without embedding anything. */
  knownDimension(): number | undefined;
  /** Tokens the model's tokenizer makes of `text` (no special tokens), when the tokenizer is local. */
  countTokens?(text: string): number;
  embedBatch(texts: string[], signal: AbortSignal | undefined): Promise<Float32Array[]>;
  dispose?(): Promise<void>;
}

export interface EmbedSettings {
  /** Prepended to every query, e.g. bge's "Represent this sentence for searching relevant passages: ". */
  queryPrefix: string;
  /** Prepended to every passage, e.g. e5's "passage: ". */
  passagePrefix: string;
  /** Scale every vector to unit length (default true), so dot product = cosine similarity. */
  normalize: boolean;
}

export class ModelEmbedder implements Embedder {
  readonly id: string;
  /** The model's token counter (for token-based splitting); absent for remote models. */
  readonly tokenizer?: () => Promise<TokenCounter>;
  private dim: number | undefined;

  constructor(
    private readonly backend: EmbedBackend,
    readonly settings: EmbedSettings,
  ) {
    this.id = embedderId(backend, settings);
    this.dim = backend.knownDimension();
    const count = backend.countTokens?.bind(backend);
    if (count) this.tokenizer = () => Promise.resolve({ countTokens: count });
  }

  async dimension(): Promise<number> {
    if (this.dim === undefined) await this.embedPassages(["dimension"]);
    return this.dim!;
  }

  embedQueries(texts: string[], options: TaskOptions = {}): Promise<Float32Array[]> {
    return this.embed(texts, this.settings.queryPrefix, options);
  }

  embedPassages(texts: string[], options: TaskOptions = {}): Promise<Float32Array[]> {
    return this.embed(texts, this.settings.passagePrefix, options);
  }

  async dispose(): Promise<void> {
    await this.backend.dispose?.();
  }

  private async embed(texts: string[], prefix: string, options: TaskOptions): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const total = texts.length;
    for (let start = 0; start < total; start += this.backend.batchSize) {
      throwIfAborted(options.signal, `embedding with ${this.backend.id}`);
      const batch = texts.slice(start, start + this.backend.batchSize).map((t) => prefix + t);
      const vectors = await this.backend.embedBatch(batch, options.signal);
      this.check(vectors, batch.length);
      for (const v of vectors) out.push(this.settings.normalize ? normalizeL2(v) : v);
      options.onProgress?.({ task: "embed", done: out.length, total, unit: "texts" });
    }
    return out;
  }

  private check(vectors: Float32Array[], expected: number): void {
    const bad = (why: string) =>
      new InfuseError("embed.bad_output", `${this.backend.id} ${why}`, {
        kind: "internal",
        hint: "check that the model is a text-embedding model (and the server serves one under that name)",
      });
    if (vectors.length !== expected) throw bad(`returned ${vectors.length} vectors for ${expected} texts`);
    for (const v of vectors) {
      this.dim ??= v.length;
      if (v.length !== this.dim || v.length === 0)
        throw bad(`returned a vector of length ${v.length}, not ${this.dim}`);
    }
  }
}

/** Model + pooling + prefixes + normalisation: everything that changes the vectors. */
export function embedderId(backend: Pick<EmbedBackend, "id" | "pooling">, settings: EmbedSettings): string {
  const parts = [backend.id];
  if (backend.pooling) parts.push(`pooling=${backend.pooling}`);
  if (!settings.normalize) parts.push("normalize=false");
  if (settings.queryPrefix) parts.push(`query=${JSON.stringify(settings.queryPrefix)}`);
  if (settings.passagePrefix) parts.push(`passage=${JSON.stringify(settings.passagePrefix)}`);
  return parts.join(";");
}

/** A unit-length copy of `v` (a zero vector stays zero). */
export function normalizeL2(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm === 0) return v;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}
