// Retrieval over several collections (e.g. one per domain): fuse every collection's hits with
// reciprocal rank fusion, or route the query to the collection(s) whose description it matches
// best (by embedding similarity, or by asking an LLM to name one). Hits say their collection.
import { InfuseError } from "../../core/errors.js";
import { complete } from "../expand/complete.js";
import { fuse } from "../retrieve/index.js";
import type { ChatModel, Embedder, Hit, RetrieveOptions, Retriever } from "../types.js";
import { mmrSelect } from "./mmr.js";

export interface IndexSource {
  /** Collection name, unique among the sources. */
  name: string;
  /** What the collection holds, in a sentence; routing compares queries with it. */
  description: string;
  retriever: Retriever;
}

export type Routing =
  | { mode: "fuse"; rrfK?: number }
  | { mode: "route-embedding"; embedder: Embedder; top?: number }
  | { mode: "route-llm"; llm: ChatModel; maxTokens?: number };

export class MultiIndexRetriever implements Retriever {
  readonly name: string;
  /** The collections the last query went to. */
  lastRoute: string[] = [];
  #descriptionVectors: Promise<Float32Array[]> | undefined;

  constructor(
    private readonly sources: IndexSource[],
    private readonly routing: Routing = { mode: "fuse" },
  ) {
    if (sources.length === 0)
      throw new InfuseError("rag.multi_empty", "multi-index retrieval needs at least one collection", {
        kind: "usage",
      });
    if (new Set(sources.map((s) => s.name)).size !== sources.length)
      throw new InfuseError("rag.multi_duplicate", "collection names must be unique", { kind: "usage" });
    this.name = `multi(${routing.mode}:${sources.map((s) => s.name).join(",")})`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const chosen = await this.route(query, options.signal);
    this.lastRoute = chosen.map((s) => s.name);
    const lists = await Promise.all(chosen.map((s) => s.retriever.retrieve(query, options)));
    const tagged = lists.map((hits, i) =>
      hits.map((h) => ({
        ...h,
        chunk: { ...h.chunk, metadata: { ...h.chunk.metadata, collection: chosen[i]!.name } },
      })),
    );
    if (tagged.length === 1) return tagged[0]!.map((h) => ({ ...h, retriever: this.name }));
    const byName = Object.fromEntries(chosen.map((s, i) => [s.name, tagged[i]!]));
    const rrfK = this.routing.mode === "fuse" ? this.routing.rrfK : undefined;
    return fuse(byName, "rrf", rrfK === undefined ? {} : { rrfK })
      .slice(0, options.topK)
      .map((h) => ({ ...h, retriever: this.name }));
  }

  /** The sources a query goes to. */
  async route(query: string, signal?: AbortSignal): Promise<IndexSource[]> {
    const r = this.routing;
    if (r.mode === "fuse" || this.sources.length === 1) return this.sources;
    if (r.mode === "route-embedding") {
      this.#descriptionVectors ??= r.embedder.embedPassages(this.sources.map((s) => s.description));
      const [q] = await r.embedder.embedQueries([query], signal ? { signal } : {});
      // λ = 1: plain similarity order
      const order = mmrSelect(q!, await this.#descriptionVectors, r.top ?? 1, 1);
      return order.map((i) => this.sources[i]!);
    }
    const reply = await complete(r.llm, routePrompt(query, this.sources), {
      maxTokens: r.maxTokens ?? 16,
      temperature: 0,
      ...(signal ? { signal } : {}),
    });
    const picked = parseRoute(
      reply,
      this.sources.map((s) => s.name),
    );
    // no recognisable name: search everything rather than nothing
    return picked.length > 0 ? this.sources.filter((s) => picked.includes(s.name)) : this.sources;
  }
}

export function routePrompt(query: string, sources: IndexSource[]) {
  return [
    {
      role: "system" as const,
      content: "Pick the collection that can answer the question. Reply with its name only.",
    },
    {
      role: "user" as const,
      content: `Collections:\n${sources.map((s) => `- ${s.name}: ${s.description}`).join("\n")}\n\nQuestion: ${query}\n\nCollection:`,
    },
  ];
}

/** Collection names in a reply, in the order they appear (whole-word, case-insensitive). */
export function parseRoute(reply: string, names: string[]): string[] {
  const lower = reply.toLowerCase();
  return names
    .map((n) => ({
      n,
      at: new RegExp(`(^|[^\\p{L}\\p{N}_-])${escapeRe(n.toLowerCase())}($|[^\\p{L}\\p{N}_-])`, "u").exec(lower)?.index,
    }))
    .filter((x): x is { n: string; at: number } => x.at !== undefined)
    .sort((a, b) => a.at - b.at)
    .map((x) => x.n);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
