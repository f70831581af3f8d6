// `collections repair`: rebuilds a damaged collection.json from what survives. The settings a
// table cannot tell (embedder, splitter, analyzer) come from the readable start of the damaged
// file, which holds them before the long list of files; the committed table version comes from
// there too (it is written first), else the newest. Chunk counts per file come from the table
// itself; a file whose record (its hash) was lost is re-embedded by the next ingest of its folder.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, isInfuseError } from "../../core/errors.js";
import { collectionDir, MANIFEST_FILE, readManifestFile, writeManifestFile } from "./collections.js";
import { lance, lanceStoreId, TABLE } from "./lancedb.js";
import { acquireWriteLock } from "./lock.js";
import { salvageJson } from "./salvage.js";
import type { CollectionManifest, FtsSettings, IngestedUnit, RepairReport } from "./types.js";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const count = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

function cannot(name: string, file: string, why: string): InfuseError {
  return new InfuseError("rag.repair_impossible", `cannot repair collection "${name}": ${why}`, {
    kind: "input",
    hint: `the documents themselves are not in the collection: delete it with \`infuse collections delete ${name}\` and ingest its folders again (keep a copy of ${file} first if you want to look at it)`,
    details: { collection: name, file },
  });
}

/** The settings only the manifest knows, from its readable start; names what is missing. */
function settingsOf(salvaged: Json, name: string, file: string) {
  const embedder = salvaged["embedder"];
  const splitter = salvaged["splitter"];
  const fts = salvaged["fts"];
  const missing = [
    isObject(embedder) &&
    typeof embedder["id"] === "string" &&
    typeof embedder["spec"] === "string" &&
    count(embedder["dimension"])
      ? ""
      : "embedder",
    isObject(splitter) &&
    typeof splitter["kind"] === "string" &&
    count(splitter["chunkSize"]) &&
    count(splitter["overlap"])
      ? ""
      : "splitter",
    isObject(fts) && typeof fts["language"] === "string" && Object.keys(fts).length === 5 ? "" : "fts",
  ].filter(Boolean);
  if (missing.length > 0) {
    throw cannot(
      name,
      file,
      `its manifest is damaged before the ${missing.join(", ")} settings, which only it records`,
    );
  }
  return {
    embedder: embedder as unknown as CollectionManifest["embedder"],
    splitter: splitter as unknown as CollectionManifest["splitter"],
    fts: fts as unknown as FtsSettings,
  };
}

/** Repairs collection `name` under `root` (taking its write lock); `healthy` if it reads fine. */
export async function repairCollection(root: string, name: string): Promise<RepairReport> {
  const dir = collectionDir(root, name);
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) {
    throw new InfuseError("rag.collection_not_found", `collection "${name}" has no ${MANIFEST_FILE} in ${dir}`, {
      kind: "not_found",
      hint: "check the name with `infuse collections`; a folder without a manifest was never committed",
      details: { collection: name },
    });
  }
  const lock = await acquireWriteLock(dir, name, lanceStoreId(root));
  try {
    const healthy = await readManifestFile(root, name).catch((e: unknown) => {
      if (isInfuseError(e) && e.code === "rag.collection_corrupt") return null;
      throw e;
    });
    if (healthy) {
      const m = healthy.manifest;
      const units = Object.keys(m.units).length;
      return {
        collection: name,
        status: "healthy",
        revision: m.revision,
        tableVersion: healthy.tableVersion,
        chunks: m.chunks,
        units,
        unitsReset: 0,
        notes: [],
      };
    }
    if (healthy === undefined)
      throw new InfuseError("rag.collection_changed", `collection "${name}" was deleted meanwhile`, { kind: "io" });
    const salvaged = salvageJson(await readFile(file, "utf8"));
    if (!isObject(salvaged)) throw cannot(name, file, "nothing in its manifest is readable");
    const settings = settingsOf(salvaged, name, file);
    return await rebuild(root, name, file, salvaged, settings);
  } finally {
    await lock.release();
  }
}

async function rebuild(
  root: string,
  name: string,
  file: string,
  salvaged: Json,
  settings: ReturnType<typeof settingsOf>,
): Promise<RepairReport> {
  const notes = ["embedder, splitter and analyzer settings read from the damaged manifest"];
  const db = await (await lance()).connect(path.join(collectionDir(root, name), "lance"));
  try {
    if (!(await db.tableNames()).includes(TABLE)) throw cannot(name, file, "its table of chunks is missing too");
    const table = await db.openTable(TABLE);
    try {
      const versions = (await table.listVersions()).map((v) => v.version);
      const stored = isObject(salvaged["lancedb"]) ? salvaged["lancedb"]["tableVersion"] : salvaged["tableVersion"];
      let tableVersion: number;
      if (count(stored) && versions.includes(stored)) {
        tableVersion = stored;
        notes.push(`committed table version ${stored} read from the damaged manifest`);
      } else {
        tableVersion = Math.max(...versions);
        notes.push(
          `the committed table version was lost: using the newest (${tableVersion}), which includes a write that was cut short, if any`,
        );
      }
      await table.checkout(tableVersion);
      const dimension = (await table.schema()).fields.find((f) => f.name === "vector")?.type?.listSize as
        number | undefined;
      if (dimension !== settings.embedder.dimension) {
        throw cannot(
          name,
          file,
          `its table holds ${String(dimension)}-dim vectors, the manifest says ${settings.embedder.dimension}`,
        );
      }
      const perUnit = new Map<string, number>();
      for (const row of (await table.query().select(["unit_key"]).toArray()) as { unit_key: string }[]) {
        perUnit.set(row.unit_key, (perUnit.get(row.unit_key) ?? 0) + 1);
      }
      const known = isObject(salvaged["units"]) ? salvaged["units"] : {};
      const now = new Date().toISOString();
      const units: Record<string, IngestedUnit> = {};
      let reset = 0;
      for (const [key, value] of Object.entries(known)) {
        const u = isObject(value) ? value : {};
        const whole =
          typeof u["root"] === "string" &&
          typeof u["hash"] === "string" &&
          typeof u["ingestedAt"] === "string" &&
          count(u["chunks"]);
        if (whole && u["chunks"] === (perUnit.get(key) ?? 0)) units[key] = u as unknown as IngestedUnit;
      }
      for (const [key, chunks] of perUnit) {
        if (units[key]) continue;
        const u = isObject(known[key]) ? known[key] : {};
        units[key] = { root: typeof u["root"] === "string" ? u["root"] : "", hash: "", chunks, ingestedAt: now };
        reset++;
      }
      if (reset > 0)
        notes.push(
          `${reset} file records rebuilt from the table without their hash: the next ingest of their folders embeds them again`,
        );
      const chunks = [...perUnit.values()].reduce((a, b) => a + b, 0);
      const revision = count(salvaged["revision"]) && salvaged["revision"] > 0 ? salvaged["revision"] : tableVersion;
      const text = (k: string) => (typeof salvaged[k] === "string" ? (salvaged[k] as string) : now);
      const manifest: CollectionManifest = {
        format: 2,
        name,
        ...settings,
        createdAt: text("createdAt"),
        updatedAt: text("updatedAt"),
        revision,
        chunks,
        units,
      };
      await writeManifestFile(root, { manifest, tableVersion });
      return {
        collection: name,
        status: "repaired",
        revision,
        tableVersion,
        chunks,
        units: Object.keys(units).length,
        unitsReset: reset,
        notes,
      };
    } finally {
      table.close();
    }
  } finally {
    db.close();
  }
}
