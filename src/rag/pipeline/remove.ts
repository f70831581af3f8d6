// Removing sources from a collection without re-ingesting: the units whose key (the source path
// chunks cite) matches a name, a glob or a folder, with all their chunks, in one commit under the
// collection's writer lock. The files on disk are not touched; a later ingest of a folder that
// still holds them adds them back.
import { InfuseError } from "../../core/errors.js";
import { LanceDbStoreProvider, sourceMatches, type StoreProvider } from "../store/index.js";

export interface RemoveSourcesOptions {
  /** The data folder (the default LanceDB store lives in `<dataDir>/collections`). */
  dataDir: string;
  store?: StoreProvider;
  signal?: AbortSignal;
}

export interface RemoveSourcesReport {
  collection: string;
  /** The unit keys removed. */
  removed: string[];
  chunksRemoved: number;
  chunksTotal: number;
}

/**
 * Removes every unit whose key matches one of `patterns`: a source as `ask` cites it
 * (`notes/a.md`, a leading `./` ignored), a glob (`notes/*.md`, `*` spans folders), or a folder
 * ending in `/`. `rag.source_not_found` (not_found) when a pattern matches nothing.
 */
export async function removeSources(
  collection: string,
  patterns: string[],
  options: RemoveSourcesOptions,
): Promise<RemoveSourcesReport> {
  const provider = options.store ?? new LanceDbStoreProvider(options.dataDir);
  const lock = await provider.lock(collection);
  try {
    const store = await provider.open(collection);
    try {
      const keys = Object.keys(store.manifest.units);
      const removed = new Set<string>();
      for (const raw of patterns) {
        const pattern = raw.replace(/^\.\//, "");
        const matched = keys.filter((k) => sourceMatches(k, pattern));
        if (matched.length === 0) throw noMatch(collection, raw, keys);
        for (const k of matched) removed.add(k);
      }
      const list = [...removed].sort();
      const chunksRemoved = list.reduce((n, k) => n + (store.manifest.units[k]?.chunks ?? 0), 0);
      const manifest = await store.commit(
        { removeUnits: list, add: [], units: Object.fromEntries(list.map((k) => [k, null])) },
        { lock, ...(options.signal ? { signal: options.signal } : {}) },
      );
      return { collection, removed: list, chunksRemoved, chunksTotal: manifest.chunks };
    } finally {
      store.close();
    }
  } finally {
    await lock.release();
  }
}

function noMatch(collection: string, pattern: string, keys: string[]): InfuseError {
  const near = keys.filter((k) => k.endsWith(pattern.replace(/^.*\//, ""))).slice(0, 5);
  const shown = (near.length > 0 ? near : keys.slice(0, 5)).join(", ");
  return new InfuseError("rag.source_not_found", `no source of collection "${collection}" matches "${pattern}"`, {
    kind: "not_found",
    hint:
      keys.length === 0
        ? `collection "${collection}" holds no sources`
        : `name a source as \`infuse collections show ${collection}\` lists it (e.g. ${shown}), a glob like 'notes/*', or a folder ending in /`,
    details: { collection, pattern },
  });
}
