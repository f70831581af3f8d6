// Named collections on local disk: <dataDir>/collections/<name>/{collection.json, lance/}.
// collection.json is the manifest and the commit point (written to a temp file, then renamed).
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import type { CollectionManifest } from "./types.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MANIFEST_FILE = "collection.json";

export function collectionsDir(dataDir: string): string {
  return path.join(dataDir, "collections");
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

export function collectionDir(dataDir: string, name: string): string {
  return path.join(collectionsDir(dataDir), checkCollectionName(name));
}

/** The manifest, or undefined if the collection does not exist (never committed). */
export async function readManifest(dataDir: string, name: string): Promise<CollectionManifest | undefined> {
  const file = path.join(collectionDir(dataDir, name), MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InfuseError("rag.collection_unreadable", `cannot read ${file}`, { kind: "io", cause: e });
  }
  try {
    const manifest = JSON.parse(text) as CollectionManifest;
    if (manifest.format !== 1) throw new Error(`unknown format ${String(manifest.format)}`);
    return manifest;
  } catch (e) {
    throw new InfuseError(
      "rag.collection_corrupt",
      `${file} is not a valid collection manifest: ${(e as Error).message}`,
      {
        kind: "input",
        hint: `delete the collection with \`infuse collections delete ${name}\` and ingest again`,
        cause: e,
      },
    );
  }
}

/** Writes the manifest atomically (temp file + rename): the commit point of every ingest. */
export async function writeManifest(dataDir: string, manifest: CollectionManifest): Promise<void> {
  const dir = collectionDir(dataDir, manifest.name);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, MANIFEST_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(manifest, null, 1));
  await rename(tmp, file);
}

export interface CollectionSummary {
  name: string;
  embedder: string;
  dimension: number;
  splitter: string;
  chunks: number;
  units: number;
  createdAt: string;
  updatedAt: string;
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

/** Committed collections, by name. */
export async function listCollections(dataDir: string): Promise<CollectionSummary[]> {
  let names: string[];
  try {
    names = (await readdir(collectionsDir(dataDir), { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new InfuseError("rag.collections_unreadable", `cannot list ${collectionsDir(dataDir)}`, {
      kind: "io",
      cause: e,
    });
  }
  const out: CollectionSummary[] = [];
  for (const name of names.filter((n) => NAME.test(n)).sort()) {
    const m = await readManifest(dataDir, name);
    if (m) out.push(summarize(m));
  }
  return out;
}

export async function requireManifest(dataDir: string, name: string): Promise<CollectionManifest> {
  const m = await readManifest(dataDir, name);
  if (m) return m;
  const names = (await listCollections(dataDir)).map((c) => c.name);
  throw new InfuseError(
    "rag.collection_not_found",
    `collection "${name}" does not exist in ${collectionsDir(dataDir)}`,
    {
      kind: "not_found",
      hint:
        names.length > 0
          ? `existing collections: ${names.join(", ")}`
          : `create it with \`infuse ingest PATH --collection ${name}\``,
      details: { collection: name, existing: names },
    },
  );
}

export async function deleteCollection(dataDir: string, name: string): Promise<void> {
  await requireManifest(dataDir, name);
  await rm(collectionDir(dataDir, name), { recursive: true, force: true });
}
