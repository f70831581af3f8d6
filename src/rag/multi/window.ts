// Context expansion of hits: a sentence window (the hit plus its `size` neighbouring chunks of the
// same document — with a sentence splitter, neighbouring sentences) or the parent document (all of
// its chunks, up to a length). Overlapping expansions of one document merge into the best hit.
import type { CollectionStore } from "../store/index.js";
import type { Chunk, Hit, RetrieveOptions, Retriever } from "../types.js";

export type ExpandMode = { mode: "window"; size: number } | { mode: "parent"; maxChars?: number };

/** The store unit a chunk belongs to: its file, or `source#doc_id` for ingested records. */
export function unitKeyOf(chunk: Chunk): string {
  const doc = chunk.metadata["doc_id"];
  return doc === undefined ? chunk.source : `${chunk.source}#${doc}`;
}

/** Chunks of the same document text as `chunk` (same page and row), in offset order. */
function sameDocument(chunk: Chunk, unit: Chunk[]): Chunk[] {
  return unit
    .filter((c) => c.page === chunk.page && c.metadata["row"] === chunk.metadata["row"])
    .sort((a, b) => a.start - b.start);
}

/** Joins chunks in offset order into one text, dropping what overlapping chunks repeat. */
export function mergeChunks(chunks: Chunk[]): { text: string; start: number; end: number } {
  let text = "";
  let end = -1;
  let start = -1;
  for (const c of chunks) {
    if (start < 0) {
      start = c.start;
      text = c.text;
    } else if (c.start >= end) text += (c.start > end ? " " : "") + c.text;
    else if (c.end > end) text += c.text.slice(end - c.start);
    end = Math.max(end, c.end);
  }
  return { text, start, end };
}

export class ExpandingRetriever implements Retriever {
  readonly name: string;

  constructor(
    private readonly base: Retriever,
    /** The store a hit's document is read from: one, or per hit (hits of several collections). */
    private readonly store: CollectionStore | ((hit: Hit) => CollectionStore),
    private readonly expand: ExpandMode,
  ) {
    this.name = `${base.name}+${expand.mode === "window" ? `window${expand.size}` : "parent"}`;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const hits = await this.base.retrieve(query, options);
    const units = new Map<string, Promise<Chunk[]>>();
    const out: (Hit & { range: [string, number, number] })[] = [];
    for (const hit of hits) {
      const store = typeof this.store === "function" ? this.store(hit) : this.store;
      const key = `${store.manifest.name}\u0000${unitKeyOf(hit.chunk)}`;
      if (!units.has(key)) units.set(key, store.chunksOf(unitKeyOf(hit.chunk)));
      const doc = sameDocument(hit.chunk, await units.get(key)!);
      const at = doc.findIndex((c) => c.id === hit.chunk.id);
      const picked = at < 0 ? [hit.chunk] : this.#pick(doc, at);
      const merged = mergeChunks(picked);
      const group = `${key}\u0000${hit.chunk.page ?? ""}\u0000${hit.chunk.metadata["row"] ?? ""}`;
      // a hit whose expansion overlaps a better hit's expansion of the same document adds nothing new
      if (out.some((o) => o.range[0] === group && o.range[1] < merged.end && merged.start < o.range[2])) continue;
      out.push({
        ...hit,
        chunk: { ...hit.chunk, text: merged.text, start: merged.start, end: merged.end },
        retriever: this.name,
        range: [group, merged.start, merged.end],
      });
    }
    return out.map(({ range: _, ...h }) => h);
  }

  #pick(doc: Chunk[], at: number): Chunk[] {
    if (this.expand.mode === "window") return doc.slice(Math.max(0, at - this.expand.size), at + this.expand.size + 1);
    const max = this.expand.maxChars ?? 8000;
    // the whole document when it fits, else the longest run of neighbours around the hit that does
    let lo = at;
    let hi = at;
    let length = doc[at]!.text.length;
    while (lo > 0 || hi < doc.length - 1) {
      const next = hi < doc.length - 1 && (lo === 0 || hi - at <= at - lo) ? hi + 1 : lo - 1;
      const add = doc[next]!.text.length;
      if (length + add > max) break;
      length += add;
      if (next > hi) hi = next;
      else lo = next;
    }
    return doc.slice(lo, hi + 1);
  }
}
