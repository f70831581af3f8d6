// Chunks and changes for the store conformance suite: a small corpus embedded with the hashing
// embedder, with sources, pages, headings and metadata for filters.
import { createHash } from "node:crypto";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { splitterSettings } from "../../src/rag/split/index.js";
import type { CollectionChange, CollectionInit, IngestedUnit, StoredChunk } from "../../src/rag/store/index.js";
import type { MetadataValue } from "../../src/rag/types.js";

export const embedder = new HashingEmbedder();
export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export const INIT: CollectionInit = {
  embedder: { id: embedder.id, spec: embedder.id, dimension: 512 },
  splitter: splitterSettings({ kind: "markdown", chunkSize: 200, overlap: 0 }),
};

export interface ChunkSpec {
  text: string;
  page?: number;
  heading?: string[];
  metadata?: Record<string, MetadataValue>;
}

/** The chunks of one unit (its key is also its source), laid end to end. */
export function unitChunks(unit: string, specs: ChunkSpec[]): StoredChunk[] {
  let at = 0;
  return specs.map((s, i) => {
    const start = at;
    at += s.text.length + 2;
    return {
      id: `${unit}#${i}`,
      text: s.text,
      source: unit,
      ...(s.page !== undefined ? { page: s.page } : {}),
      ...(s.heading ? { headingPath: s.heading } : {}),
      start,
      end: start + s.text.length,
      metadata: s.metadata ?? {},
      vector: embedder.embed(s.text),
      textHash: sha256(s.text),
      unitKey: unit,
    };
  });
}

function unitRecord(chunks: number, hash: string): IngestedUnit {
  return { root: "/docs", hash, chunks, ingestedAt: "2026-01-01T00:00:00.000Z" };
}

/** Adds (or replaces) units and removes others, as one change. */
export function change(units: Record<string, ChunkSpec[]>, remove: string[] = []): CollectionChange {
  const add = Object.entries(units).flatMap(([unit, specs]) => unitChunks(unit, specs));
  const records: CollectionChange["units"] = Object.fromEntries(remove.map((u) => [u, null]));
  for (const [unit, specs] of Object.entries(units)) {
    records[unit] = unitRecord(specs.length, sha256(specs.map((s) => s.text).join("\n")));
  }
  return { removeUnits: [...Object.keys(units), ...remove], add, units: records };
}

export const CORPUS: Record<string, ChunkSpec[]> = {
  "tides.md": [
    {
      text: "The tide rises twice a day because of the moon.",
      heading: ["Tides"],
      metadata: { lang: "en", topic: "sea" },
    },
  ],
  "storms.md": [
    { text: "Storm surges flood the quay in winter.", heading: ["Storms"], metadata: { lang: "en", topic: "weather" } },
    {
      text: "Fog closes the harbour on autumn mornings.",
      heading: ["Storms", "Fog"],
      metadata: { lang: "de", topic: "weather" },
    },
  ],
  "harbour.pdf": [
    { text: "The harbour has six berths and a fuel dock.", page: 1, metadata: { lang: "fr", year: 2020 } },
    { text: "Pilots board ships at the outer buoy.", page: 2, metadata: { lang: "fr", year: 2021 } },
  ],
};

export const CORPUS_CHUNKS = Object.values(CORPUS).flat().length;

/** Many short chunks, enough that a store writes them in more than one batch. */
export function manyChunks(unit: string, n: number): Record<string, ChunkSpec[]> {
  return { [unit]: Array.from({ length: n }, (_, i) => ({ text: `Buoy log entry ${i}: lantern ${i % 7} checked.` })) };
}

export { cosine } from "../../src/rag/multi/mmr.js";
