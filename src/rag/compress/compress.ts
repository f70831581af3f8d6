// Contextual compression: keep only the sentences of each retrieved chunk that bear on the
// question — by embedding similarity, or by an LLM that copies the relevant sentences — and count
// the tokens saved. A chunk with no kept sentence is dropped. Leaves out abstractive summaries.
import { throwIfAborted } from "../../core/errors.js";
import { complete } from "../expand/complete.js";
import { cosine } from "../multi/mmr.js";
import { sentenceSpans } from "../split/sentence.js";
import type { ChatModel, Embedder, Hit, RetrieveOptions, Retriever, TokenCounter } from "../types.js";
import { fencedBlock } from "../generate/prompt.js";

export interface Compressor {
  readonly id: string;
  /** For each passage, the indices of the sentences to keep (in order). */
  select(query: string, passages: string[][], signal?: AbortSignal): Promise<number[][]>;
}

export interface CompressionStats {
  tokensBefore: number;
  tokensAfter: number;
  /** 1 − after/before. */
  saving: number;
  droppedChunks: number;
}

/** Sentences of a text (Intl.Segmenter), trimmed, blanks dropped. */
export function sentencesOf(text: string): string[] {
  return sentenceSpans(text, { start: 0, end: text.length })
    .map((s) => text.slice(s.start, s.end).trim())
    .filter(Boolean);
}

const words: TokenCounter = { countTokens: (t) => t.match(/[\p{L}\p{N}]+/gu)?.length ?? 0 };

/** Compresses hits; `tokens` counts tokens (default: words). */
export async function compressHits(
  query: string,
  hits: Hit[],
  compressor: Compressor,
  options: { tokens?: TokenCounter; signal?: AbortSignal } = {},
): Promise<{ hits: Hit[]; stats: CompressionStats }> {
  const count = options.tokens ?? words;
  const sentences = hits.map((h) => sentencesOf(h.chunk.text));
  const keep = await compressor.select(query, sentences, options.signal);
  let before = 0;
  let after = 0;
  let dropped = 0;
  const out: Hit[] = [];
  hits.forEach((h, i) => {
    before += count.countTokens(h.chunk.text);
    const kept = (keep[i] ?? []).map((j) => sentences[i]![j]!).filter(Boolean);
    if (kept.length === 0) {
      dropped++;
      return;
    }
    const text = kept.join(" ");
    after += count.countTokens(text);
    out.push({ ...h, chunk: { ...h.chunk, text, metadata: { ...h.chunk.metadata, compressed: true } } });
  });
  return {
    hits: out,
    stats: {
      tokensBefore: before,
      tokensAfter: after,
      saving: before > 0 ? 1 - after / before : 0,
      droppedChunks: dropped,
    },
  };
}

/** Keeps sentences whose cosine with the question is at least `threshold`, or the best `top` per chunk. */
export class EmbeddingCompressor implements Compressor {
  readonly id: string;

  constructor(
    private readonly embedder: Embedder,
    private readonly options: { threshold?: number; top?: number } = {},
  ) {
    this.id = `embedding:${embedder.id}`;
  }

  async select(query: string, passages: string[][], signal?: AbortSignal): Promise<number[][]> {
    const task = signal ? { signal } : {};
    const [q] = await this.embedder.embedQueries([query], task);
    const flat = passages.flat();
    const vectors = flat.length > 0 ? await this.embedder.embedPassages(flat, task) : [];
    let at = 0;
    return passages.map((sents) => {
      const sims = sents.map(() => cosine(q!, vectors[at++]!));
      const top = this.options.top;
      if (top !== undefined) {
        const best = new Set([...sims.keys()].sort((a, b) => sims[b]! - sims[a]!).slice(0, top));
        return [...best].sort((a, b) => a - b);
      }
      const threshold = this.options.threshold ?? 0.2;
      return [...sims.keys()].filter((j) => sims[j]! >= threshold);
    });
  }
}

/**
 * Asks the LLM to copy the relevant sentences; only sentences of the passage that appear in the
 * reply are kept (so nothing the model invents gets in). "NONE" keeps nothing.
 */
export class LlmExtractor implements Compressor {
  readonly id: string;

  constructor(
    private readonly model: ChatModel,
    private readonly options: { maxTokens?: number } = {},
  ) {
    this.id = `llm:${model.id}`;
  }

  async select(query: string, passages: string[][], signal?: AbortSignal): Promise<number[][]> {
    const out: number[][] = [];
    for (const sents of passages) {
      throwIfAborted(signal, "LLM extraction");
      const reply = await complete(this.model, extractPrompt(query, sents.join(" ")), {
        maxTokens: this.options.maxTokens ?? 256,
        temperature: 0,
        ...(signal ? { signal } : {}),
      });
      out.push(parseExtraction(reply, sents));
    }
    return out;
  }
}

export function extractPrompt(query: string, passage: string) {
  const { block, note } = fencedBlock(passage);
  return [
    {
      role: "system" as const,
      content:
        "Copy, word for word, the sentences of the passage that help answer the question. " +
        `Copy nothing else. If no sentence helps, reply NONE. ${note}`,
    },
    { role: "user" as const, content: `Question: ${query}\n\n${block}\n\nRelevant sentences:` },
  ];
}

/** Indices of the sentences the reply contains (compared without case, punctuation or spacing). */
export function parseExtraction(reply: string, sentences: string[]): number[] {
  const norm = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .trim();
  const r = ` ${norm(reply)} `;
  if (norm(reply) === "none") return [];
  return [...sentences.keys()].filter((j) => {
    const s = norm(sentences[j]!);
    return s.length > 0 && r.includes(` ${s} `);
  });
}

/** A retriever whose hits are compressed; `lastStats` holds the saving of the last query. */
export class CompressingRetriever implements Retriever {
  readonly name: string;
  lastStats: CompressionStats | undefined;

  constructor(
    private readonly base: Retriever,
    private readonly compressor: Compressor,
    private readonly tokens?: TokenCounter,
  ) {
    this.name = `${base.name}+compress`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const hits = await this.base.retrieve(query, options);
    const { hits: out, stats } = await compressHits(query, hits, this.compressor, {
      ...(this.tokens ? { tokens: this.tokens } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.lastStats = stats;
    return out.map((h) => ({ ...h, retriever: this.name }));
  }
}
