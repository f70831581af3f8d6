// The passages mining draws from, and the collection it searches them in. A corpus is a collection,
// a passages JSONL file or passages in memory; mining always searches a collection of its own built
// from those passages (one record per passage, text = `passageText`, `doc_id` = the passage id, no
// splitting), so a candidate's id and text compare with a pair's positives exactly and the positive's
// own score can be asked for with a `doc_id` filter. The collection is named by a hash of the
// passages and the embedder, so a second run finds it built and embeds nothing again.
import { createHash } from "node:crypto";
import type { ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { ingestRecords } from "../pipeline/ingest.js";
import { storeProvider, type CollectionStore, type StoreProvider } from "../store/index.js";
import type { Embedder } from "../types.js";
import { collectionPassages, loadPassages, passageText, type Passage } from "./passages.js";

/** A collection name, a passages file, or passages in memory. */
export type CorpusInput = { collection: string } | { file: string } | { passages: Passage[] };

/** The passages of a corpus, in order, ids unique (a repeated id keeps its first passage). */
export async function corpusPassages(
  input: CorpusInput,
  options: { config: ResolvedConfig; store?: StoreProvider },
): Promise<Passage[]> {
  let passages: Passage[];
  let label: string;
  if ("passages" in input) {
    passages = input.passages;
    label = "the passages given";
  } else if ("file" in input) {
    passages = await loadPassages(input.file);
    label = input.file;
  } else {
    const provider = options.store ?? storeProvider(options.config);
    const store = await provider.open(input.collection);
    try {
      passages = [];
      for await (const p of collectionPassages(store)) passages.push(p);
    } finally {
      store.close();
    }
    label = `collection ${input.collection}`;
  }
  const seen = new Set<string>();
  const unique = passages.filter((p) => !seen.has(p.id) && (seen.add(p.id), true));
  if (unique.length === 0)
    throw new InfuseError("embed.empty_corpus", `${label} holds no passages`, {
      kind: "input",
      hint: "give a corpus with at least one passage (--corpus FILE or --collection NAME)",
    });
  return unique;
}

const clean = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/** `embed-mine-<hash of passages>-<embedder>`, at most 64 characters. */
export function miningCollectionName(passages: readonly Passage[], embedderId: string): string {
  const h = createHash("sha256");
  for (const p of passages) h.update(p.id).update("\0").update(passageText(p)).update("\0");
  const embedder = clean(embedderId);
  const tail = embedder.length <= 36 ? embedder : createHash("sha256").update(embedder).digest("hex").slice(0, 12);
  return `embed-mine-${h.digest("hex").slice(0, 12)}-${tail}`.slice(0, 64);
}

export interface MiningIndex {
  store: CollectionStore;
  collection: string;
  /** Passage text → its id, for positives given as text only. */
  idOfText: Map<string, string>;
  /** Ids the index holds. */
  ids: Set<string>;
  /** Documents embedded now (0 when the collection was already built). */
  embedded: number;
}

export interface MiningIndexOptions extends TaskOptions {
  config: ResolvedConfig;
  store?: StoreProvider;
  embedder: Embedder;
  /** How to recreate the embedder (stored with the collection). */
  embedderSpec: string;
}

/** Builds (or finds built) the collection mining searches. Close `store` when done. */
export async function miningIndex(passages: readonly Passage[], options: MiningIndexOptions): Promise<MiningIndex> {
  const provider = options.store ?? storeProvider(options.config);
  const collection = miningCollectionName(passages, options.embedder.id);
  const report = await ingestRecords(
    collection,
    passages.map((p) => ({ id: p.id, text: passageText(p) })),
    {
      dataDir: options.config.dataDir,
      store: provider,
      embedder: options.embedder,
      embedderSpec: options.embedderSpec,
      splitter: { kind: "none" },
      titleInText: false,
      source: "embed-mine",
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    },
  );
  const idOfText = new Map<string, string>();
  for (const p of passages) if (!idOfText.has(normalize(passageText(p)))) idOfText.set(normalize(passageText(p)), p.id);
  return {
    store: await provider.open(collection),
    collection,
    idOfText,
    ids: new Set(passages.map((p) => p.id)),
    embedded: report.embedded,
  };
}

/** Text compared for "the same passage": whitespace runs as one space, ends trimmed. */
export function normalize(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
