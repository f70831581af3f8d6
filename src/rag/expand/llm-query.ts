// Query rewriting with an LLM: multi-query (the model writes variants of the question, each is
// searched, the lists are fused by reciprocal rank), HyDE (the model writes a hypothetical answer
// passage, whose embedding is searched), and answer-as-query (a draft answer from the first hits
// is searched again and fused with them). Leaves out step-back and decomposition prompting.
import { throwIfAborted } from "../../core/errors.js";
import { fuse } from "../retrieve/index.js";
import type { CollectionStore } from "../store/index.js";
import type { ChatMessage, ChatModel, Embedder, Hit, RetrieveOptions, Retriever } from "../types.js";
import { complete } from "./complete.js";
import { fencedBlock } from "../generate/prompt.js";

export interface LlmQueryOptions {
  /** Tokens the model may write; defaults per technique. */
  maxTokens?: number;
}

/** Query variants in a reply: one per line, numbering/bullets/quotes removed, deduplicated. */
export function parseVariants(reply: string, original: string, max: number): string[] {
  const seen = new Set([original.trim().toLowerCase()]);
  const out: string[] = [];
  for (const line of reply.split(/\r?\n/)) {
    const v = line
      .replace(/^\s*(?:[-*•]|\d+[.):]|[a-z][.)]|q\d*:|query\s*\d*:)\s*/i, "")
      .replace(/^["'“”]+|["'“”]+$/g, "")
      .trim();
    if (v.length < 3 || seen.has(v.toLowerCase())) continue;
    seen.add(v.toLowerCase());
    out.push(v);
    if (out.length === max) break;
  }
  return out;
}

export function variantsPrompt(query: string, n: number): ChatMessage[] {
  return [
    {
      role: "system",
      content: `Write ${n} different search queries that would find documents answering the question. One per line, no numbering, nothing else.`,
    },
    { role: "user", content: query },
  ];
}

export class MultiQueryRetriever implements Retriever {
  readonly name: string;
  /** The variants searched for the last query (the original first). */
  lastQueries: string[] = [];

  constructor(
    private readonly base: Retriever,
    private readonly llm: ChatModel,
    private readonly options: LlmQueryOptions & { variants?: number } = {},
  ) {
    this.name = `${base.name}+multiquery`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const n = this.options.variants ?? 3;
    const reply = await complete(this.llm, variantsPrompt(query, n), {
      maxTokens: this.options.maxTokens ?? 128,
      temperature: 0,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.lastQueries = [query, ...parseVariants(reply, query, n)];
    const lists = await Promise.all(this.lastQueries.map((q) => this.base.retrieve(q, options)));
    if (lists.length === 1) return lists[0]!.map((h) => ({ ...h, retriever: this.name }));
    const byQuery = Object.fromEntries(lists.map((hits, i) => [`q${i}`, hits]));
    return fuse(byQuery, "rrf")
      .slice(0, options.topK)
      .map((h) => ({ ...h, retriever: this.name }));
  }
}

export function hydePrompt(query: string): ChatMessage[] {
  return [
    { role: "system", content: "Write a short passage, as found in a reference document, that answers the question." },
    { role: "user", content: query },
  ];
}

/** HyDE: the hypothetical passage's embedding (averaged with the query's) searches the vectors. */
export class HydeRetriever implements Retriever {
  readonly name = "hyde";
  lastPassage = "";

  constructor(
    private readonly store: CollectionStore,
    private readonly embedder: Embedder,
    private readonly llm: ChatModel,
    private readonly options: LlmQueryOptions & { includeQuery?: boolean } = {},
  ) {}

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const task = options.signal ? { signal: options.signal } : {};
    this.lastPassage = (
      await complete(this.llm, hydePrompt(query), { maxTokens: this.options.maxTokens ?? 128, temperature: 0, ...task })
    ).trim();
    throwIfAborted(options.signal, "HyDE");
    const [doc] = this.lastPassage ? await this.embedder.embedPassages([this.lastPassage], task) : [undefined];
    const [q] = await this.embedder.embedQueries([query], task);
    const vector =
      doc === undefined ? q! : this.options.includeQuery === false ? doc : doc.map((v, i) => (v + q![i]!) / 2);
    const found = await this.store.searchDense(vector, {
      topK: options.topK,
      ...(options.filter ? { filter: options.filter } : {}),
    });
    return found.map((f, i) => ({
      chunk: f.chunk,
      score: f.score,
      retriever: this.name,
      sources: { hyde: { rank: i + 1, score: f.score } },
    }));
  }
}

export function draftPrompt(query: string, hits: Hit[]): ChatMessage[] {
  const { block, note } = fencedBlock(hits.map((h, i) => `[${i + 1}] ${h.chunk.text}`).join("\n"));
  return [
    { role: "system", content: `Answer the question in two or three sentences using the passages. ${note}` },
    { role: "user", content: `Passages:\n${block}\n\nQuestion: ${query}` },
  ];
}

/** Answer-as-query: retrieve, draft an answer from the hits, retrieve with the draft, fuse both lists. */
export class AnswerAsQueryRetriever implements Retriever {
  readonly name: string;
  lastDraft = "";

  constructor(
    private readonly base: Retriever,
    private readonly llm: ChatModel,
    private readonly options: LlmQueryOptions & { draftContext?: number } = {},
  ) {
    this.name = `${base.name}+aaq`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const first = await this.base.retrieve(query, options);
    this.lastDraft = (
      await complete(this.llm, draftPrompt(query, first.slice(0, this.options.draftContext ?? 3)), {
        maxTokens: this.options.maxTokens ?? 128,
        temperature: 0,
        ...(options.signal ? { signal: options.signal } : {}),
      })
    ).trim();
    if (!this.lastDraft) return first.map((h) => ({ ...h, retriever: this.name }));
    const second = await this.base.retrieve(this.lastDraft, options);
    return fuse({ query: first, draft: second }, "rrf")
      .slice(0, options.topK)
      .map((h) => ({ ...h, retriever: this.name }));
  }
}
