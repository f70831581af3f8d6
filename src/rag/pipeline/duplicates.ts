// Duplicate content across units: the same file reached from two ingest roots (`notes/` after
// `.`), or two copies in one folder, is stored once. Units are compared by their unit hash (the
// content, the tabular settings and the source metadata), which ingest computes anyway.
import type { IngestedUnit } from "../store/index.js";

export type DuplicateVerdict = { duplicateOf: string } | "new" | "later";

/**
 * Which unit holds each content hash, as the collection and the run so far say. A stored unit of
 * the root being ingested that this run has not listed (yet) is not a safe original: a sync may
 * remove it once the walk ends (a file renamed inside the folder would lose its content). Units
 * matching one are "later": decided again (`final`) once the stream has ended and its sync root
 * (`syncRoot()`, set only by a complete folder walk) is known.
 */
export class DuplicateIndex {
  readonly #holder = new Map<string, string>();
  readonly #hashOf = new Map<string, string>();

  constructor(
    private readonly units: Record<string, IngestedUnit>,
    private readonly syncRoot: () => string | undefined,
    private readonly seen: ReadonlySet<string>,
  ) {
    for (const [key, u] of Object.entries(units)) this.#set(key, u.hash);
  }

  /** Whether the unit `key` of `root` with content `hash` duplicates another unit. */
  check(key: string, root: string, hash: string, final = false): DuplicateVerdict {
    const holder = this.#holder.get(hash);
    if (holder === undefined || holder === key || this.#hashOf.get(holder) !== hash) return "new";
    const stored = this.units[holder];
    if (stored === undefined || this.seen.has(holder)) return { duplicateOf: holder };
    if (!final) return stored.root === root ? "later" : { duplicateOf: holder };
    // the stream has ended: the holder goes if the walk syncs its root without having listed it
    return stored.root === this.syncRoot() ? "new" : { duplicateOf: holder };
  }

  /** Records that `key` now holds `hash` (it is being stored). */
  stored(key: string, hash: string): void {
    this.#set(key, hash);
  }

  #set(key: string, hash: string): void {
    this.#hashOf.set(key, hash);
    if (!this.#holder.has(hash) || this.#hashOf.get(this.#holder.get(hash)!) !== hash) this.#holder.set(hash, key);
  }
}
