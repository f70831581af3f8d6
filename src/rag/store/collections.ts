// LanceDB collections on local disk: <root>/<name>/{collection.json, lance/, write.lock}, root
// being <dataDir>/collections unless the config's `store.path` says otherwise. collection.json
// holds the neutral manifest plus this provider's private `lancedb.tableVersion` (the table
// version its revision maps to); writing it (temp file, synced, then rename) is the commit point.
import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { diskError, InfuseError } from "../../core/errors.js";
import { checkCollectionName, isCollectionName } from "./manifest.js";
import type { CollectionManifest } from "./types.js";

export const MANIFEST_FILE = "collection.json";

/** A committed LanceDB collection: its manifest and the table version its revision maps to. */
export interface LanceState {
  manifest: CollectionManifest;
  tableVersion: number;
}

export function collectionsDir(dataDir: string): string {
  return path.join(dataDir, "collections");
}

export function collectionDir(root: string, name: string): string {
  return path.join(root, checkCollectionName(name));
}

/**
 * `mkdir -p`, with the real reason when it fails: Node's recursive mkdir reports ENOENT when a
 * folder cannot be created on a read-only file system, so the first missing folder is created
 * alone to get EROFS (or EACCES) instead.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    let missing = dir;
    while (!existsSync(path.dirname(missing)) && path.dirname(missing) !== missing) missing = path.dirname(missing);
    await mkdir(missing); // throws the real reason
    await mkdir(dir, { recursive: true });
  }
}

type StoredFile = CollectionManifest & { lancedb?: { tableVersion: number } };

function integer(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new Error(`${what} is not a count`);
  return value;
}

/**
 * The manifest from collection.json. Format 1 (before revisions) kept LanceDB's table version
 * as the manifest's version; it becomes the revision, so revisions stay increasing.
 */
export function parseManifestFile(json: unknown): LanceState {
  const raw = json as Record<string, unknown>;
  if (raw["format"] === 1) {
    const tableVersion = integer(raw["tableVersion"], "tableVersion");
    const rest = { ...raw };
    delete rest["tableVersion"];
    const manifest = { ...rest, format: 2, revision: tableVersion } as CollectionManifest;
    return { manifest, tableVersion };
  }
  if (raw["format"] !== 2) throw new Error(`unknown format ${String(raw["format"])}`);
  const { lancedb, ...rest } = raw as unknown as StoredFile;
  const revision = integer(rest.revision, "revision");
  const tableVersion = revision === 0 ? 0 : integer(lancedb?.tableVersion, "lancedb.tableVersion");
  return { manifest: rest, tableVersion };
}

/** The committed state, or undefined if the collection does not exist (never committed). */
export async function readManifestFile(root: string, name: string): Promise<LanceState | undefined> {
  const file = path.join(collectionDir(root, name), MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InfuseError("rag.collection_unreadable", `cannot read ${file}`, { kind: "io", cause: e });
  }
  try {
    return parseManifestFile(JSON.parse(text));
  } catch (e) {
    throw new InfuseError(
      "rag.collection_corrupt",
      `${file} is not a valid collection manifest: ${(e as Error).message}`,
      {
        kind: "input",
        hint: `run \`infuse collections repair ${name}\` to rebuild it from the stored table, or delete it with \`infuse collections delete ${name}\` and ingest again`,
        cause: e,
      },
    );
  }
}

/**
 * Writes the manifest (format 2) atomically: the commit point of every write. The temp file is
 * synced before the rename, so a power cut leaves the old manifest or the new one, never an empty
 * one; the table version comes first in the file, so even a truncated copy keeps it.
 */
export async function writeManifestFile(root: string, state: LanceState): Promise<void> {
  const { name } = state.manifest;
  const dir = collectionDir(root, name);
  const file = path.join(dir, MANIFEST_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const { format, ...rest } = state.manifest;
  const stored: StoredFile = { format, lancedb: { tableVersion: state.tableVersion }, ...rest };
  try {
    await makeDir(dir);
    const handle = await open(tmp, "w");
    try {
      await handle.writeFile(JSON.stringify(stored, null, 1));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw diskError(e, file, `write the manifest of collection "${name}"`, "the collection keeps its last commit");
  }
}

/** Folder names under root that are valid collection names (committed or not). */
export async function collectionNames(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && isCollectionName(d.name))
      .map((d) => d.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new InfuseError("rag.collections_unreadable", `cannot list ${root}`, { kind: "io", cause: e });
  }
}
