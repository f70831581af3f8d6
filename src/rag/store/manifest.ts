// The provider-neutral manifest: names, a new collection's manifest, the checks an existing one
// makes against what a writer brings (embedder, splitter, analyzer), and a commit's next revision.
// How a provider stores the manifest (a file, a table) and maps revisions is its own business.
import type { EndpointSpec } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import {
  DEFAULT_FTS,
  type CollectionChange,
  type CollectionEmbedder,
  type CollectionInit,
  type CollectionManifest,
  type CollectionSummary,
  type FtsSettings,
  type IngestedUnit,
  type TabularSettings,
} from "./types.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isCollectionName(name: string): boolean {
  return NAME.test(name);
}

export function checkCollectionName(name: string): string {
  if (!NAME.test(name)) {
    throw new InfuseError("rag.collection_name", `invalid collection name "${name}"`, {
      kind: "usage",
      hint: "use letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)",
    });
  }
  return name;
}

export function summarize(m: CollectionManifest): CollectionSummary {
  return {
    name: m.name,
    embedder: m.embedder.id,
    dimension: m.embedder.dimension,
    splitter: `${m.splitter.kind} ${m.splitter.chunkSize}/${m.splitter.overlap}`,
    chunks: m.chunks,
    units: Object.keys(m.units).length,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}

/** The embedder as stored: a remote spec keeps provider, model and base URL, and nothing else. */
export function storedEmbedder(init: CollectionInit["embedder"]): CollectionEmbedder {
  const { id, spec, dimension } = init;
  if (typeof spec === "string") return { id, spec, dimension };
  const endpoint: EndpointSpec = {
    provider: spec.provider,
    model: spec.model,
    ...(spec.baseUrl !== undefined ? { baseUrl: spec.baseUrl } : {}),
  };
  return { id, spec: `${spec.provider}:${spec.model}`, endpoint, dimension };
}

/** A collection not yet committed (revision 0). */
export function newManifest(name: string, init: CollectionInit): CollectionManifest {
  const now = new Date().toISOString();
  return {
    format: 2,
    name: checkCollectionName(name),
    embedder: storedEmbedder(init.embedder),
    splitter: init.splitter,
    fts: { ...DEFAULT_FTS, ...init.fts },
    ...(init.tabular && Object.keys(init.tabular).length > 0 ? { tabular: { ...init.tabular } } : {}),
    createdAt: now,
    updatedAt: now,
    revision: 0,
    chunks: 0,
    units: {},
  };
}

/** The manifest after a commit of `change`: units updated, revision incremented. */
export function committedManifest(
  before: CollectionManifest,
  change: CollectionChange,
  chunks: number,
): CollectionManifest {
  const units = { ...before.units };
  for (const [key, unit] of Object.entries(change.units)) {
    if (unit) units[key] = unit;
    else delete units[key];
  }
  const now = new Date().toISOString();
  const revision = before.revision + 1;
  return {
    ...before,
    revision,
    chunks,
    units,
    updatedAt: now,
    ...(before.revision === 0 ? { createdAt: now } : {}),
  };
}

/**
 * An existing collection checked against what a writer brings: vectors and chunks of another
 * embedder or splitter would not match. A remote spec fills in an older manifest's missing one.
 */
export function checkInit(existing: CollectionManifest, init: CollectionInit): CollectionManifest {
  const name = existing.name;
  checkEmbedder(name, existing.embedder, init.embedder);
  const a = existing.splitter;
  const b = init.splitter;
  if (a.kind !== b.kind || a.chunkSize !== b.chunkSize || a.overlap !== b.overlap) {
    throw new InfuseError(
      "rag.splitter_mismatch",
      `collection "${name}" was split with ${a.kind} ${a.chunkSize}/${a.overlap}, not ${b.kind} ${b.chunkSize}/${b.overlap}`,
      {
        kind: "usage",
        hint: `ingest with the collection's splitter settings, or into a new collection (or delete "${name}" first)`,
      },
    );
  }
  const changed = Object.entries(init.fts ?? {}).filter(([k, v]) => existing.fts[k as keyof FtsSettings] !== v);
  if (changed.length > 0) {
    throw new InfuseError(
      "rag.fts_mismatch",
      `collection "${name}" has a full-text analyzer with other settings (${changed.map(([k]) => k).join(", ")})`,
      {
        kind: "usage",
        hint: `the analyzer is fixed when a collection is created: ingest into a new collection, or delete "${name}" first`,
      },
    );
  }
  const endpoint = storedEmbedder(init.embedder).endpoint;
  const withEndpoint =
    existing.embedder.endpoint || !endpoint ? existing : { ...existing, embedder: { ...existing.embedder, endpoint } };
  return withTabular(withEndpoint, init.tabular);
}

/** The manifest recording `tabular` (written with the next commit); unchanged when it is absent. */
function withTabular(m: CollectionManifest, tabular: TabularSettings | undefined): CollectionManifest {
  const before = m.tabular ?? {};
  if (tabular === undefined || (tabular.textColumn === before.textColumn && tabular.idColumn === before.idColumn))
    return m;
  const { tabular: _old, ...rest } = m;
  return Object.keys(tabular).length > 0 ? { ...rest, tabular: { ...tabular } } : rest;
}

/** A clear error when a collection is used with another embedder than it was built with. */
export function checkEmbedder(
  collection: string,
  built: { id: string; dimension: number },
  used: { id: string; dimension?: number },
): void {
  if (built.id !== used.id || (used.dimension !== undefined && used.dimension !== built.dimension)) {
    throw new InfuseError(
      "rag.embedder_mismatch",
      `collection "${collection}" was built with embedder ${built.id} (${built.dimension} dims), not ${used.id}`,
      {
        kind: "usage",
        hint: `use --embedder with the collection's embedder, or re-ingest into a new collection with ${used.id}`,
        details: { collection, built: built.id, used: used.id },
      },
    );
  }
}

export function notFound(name: string, store: string, existing: string[]): InfuseError {
  return new InfuseError("rag.collection_not_found", `collection "${name}" does not exist in ${store}`, {
    kind: "not_found",
    hint:
      existing.length > 0
        ? `existing collections: ${existing.join(", ")}`
        : `create it with \`infuse ingest PATH --collection ${name}\``,
    details: { collection: name, existing },
  });
}

export function changedError(name: string, doing: string): InfuseError {
  return new InfuseError(
    "rag.collection_changed",
    `collection "${name}" was changed by another writer while ${doing}`,
    {
      kind: "io",
      hint: "run it again: it starts from the collection as it is now",
    },
  );
}

/**
 * A change prepared against an older revision, replayed onto `current` (CommitOptions.rebase): units
 * are keyed by their content hash, so a unit `current` already holds with the same hash and root is
 * dropped from the change (another writer stored it: nothing twice), a unit it holds with other
 * content has its chunks replaced, and removals of units already gone are no-ops.
 */
export function rebaseChange(
  current: CollectionManifest,
  change: CollectionChange,
): { change: CollectionChange; skipped: string[] } {
  const kept = new Set<string>();
  const skipped: string[] = [];
  const units: Record<string, IngestedUnit | null> = {};
  const remove = new Set<string>();
  for (const [key, unit] of Object.entries(change.units)) {
    const there = current.units[key];
    if (unit === null) {
      if (there) {
        units[key] = null;
        remove.add(key);
      }
      continue;
    }
    if (there && there.hash === unit.hash && there.root === unit.root) {
      skipped.push(key);
      continue;
    }
    units[key] = unit;
    kept.add(key);
    if (there) remove.add(key);
  }
  // removals that the change names without a manifest entry (a unit re-keyed): only if still there
  for (const key of change.removeUnits) if (!(key in change.units) && current.units[key]) remove.add(key);
  return { change: { removeUnits: [...remove], add: change.add.filter((c) => kept.has(c.unitKey)), units }, skipped };
}

export const isEmptyChange = (c: CollectionChange) =>
  c.add.length === 0 && c.removeUnits.length === 0 && Object.keys(c.units).length === 0;
