// The LanceDB provider: the store conformance suite in temp folders, then what only LanceDB
// has: collection.json's format 1 (LanceDB's table version as the manifest's version) read
// and migrated, rollback of versions a crashed writer left, stale pid locks, and version pruning.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { describe, expect, it } from "vitest";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { storeConformance } from "./store-conformance.js";
import { CORPUS, CORPUS_CHUNKS, INIT, change, embedder } from "./store-fixtures.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));

storeConformance("lancedb", async () => {
  const dir = await tmp("store");
  return Object.assign(new LanceDbStoreProvider(dir), { cleanup: () => rm(dir, { recursive: true, force: true }) });
});

async function seeded(): Promise<{ dataDir: string; provider: LanceDbStoreProvider; file: string }> {
  const dataDir = await tmp("store");
  const provider = new LanceDbStoreProvider(dataDir);
  const s = await provider.openOrCreate("c", INIT);
  await s.commit(change(CORPUS));
  s.close();
  return { dataDir, provider, file: path.join(dataDir, "collections/c/collection.json") };
}

const tableOf = async (dataDir: string) =>
  (await lancedb.connect(path.join(dataDir, "collections/c/lance"))).openTable("chunks");

describe("LanceDB store provider", () => {
  it("lives in <dataDir>/collections, or in store.path; the data-folder functions use the former", async () => {
    const { dataDir, provider } = await seeded();
    expect(provider.describe()).toBe(`lancedb:${path.join(dataDir, "collections")}`);
    expect((await new LanceDbStoreProvider(dataDir).list()).map((c) => c.name)).toEqual(["c"]);
    const elsewhere = await tmp("elsewhere");
    const moved = new LanceDbStoreProvider(dataDir, { path: elsewhere });
    expect(moved.describe()).toBe(`lancedb:${elsewhere}`);
    expect(await moved.list()).toEqual([]);
    await (await moved.openOrCreate("m", INIT)).commit(change(CORPUS));
    expect((await moved.list()).map((c) => c.name)).toEqual(["m"]);
    expect(JSON.parse(await readFile(path.join(elsewhere, "m/collection.json"), "utf8"))).toMatchObject({
      revision: 1,
    });
  });

  it("stores the revision and, privately, the LanceDB table version it maps to", async () => {
    const { dataDir, file } = await seeded();
    const stored = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    const table = await tableOf(dataDir);
    expect(stored).toMatchObject({ format: 2, revision: 1, lancedb: { tableVersion: await table.version() } });
    expect(stored).not.toHaveProperty("tableVersion");
    table.close();
  });

  it("reads a format-1 manifest (LanceDB's table version as its version) and writes format 2 on commit", async () => {
    const { dataDir, provider, file } = await seeded();
    const current = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    const tableVersion = (current["lancedb"] as { tableVersion: number }).tableVersion;
    const old = {
      format: 1,
      name: "c",
      embedder: { id: embedder.id, spec: embedder.id, dimension: 512 },
      splitter: INIT.splitter,
      fts: current["fts"],
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-02T00:00:00.000Z",
      tableVersion,
      chunks: CORPUS_CHUNKS,
      units: current["units"],
    };
    await writeFile(file, JSON.stringify(old, null, 1));

    const m = await provider.requireManifest("c");
    expect(m).toMatchObject({ format: 2, revision: tableVersion, chunks: CORPUS_CHUNKS });
    expect(m).not.toHaveProperty("lancedb");
    const reader = await new LanceDbStoreProvider(dataDir).open("c");
    expect(await reader.count()).toBe(CORPUS_CHUNKS);
    expect((await reader.searchText("moon", { topK: 3 }))[0]!.chunk.source).toBe("tides.md");
    reader.close();

    const writer = await provider.openOrCreate("c", INIT);
    const next = await writer.commit(change({ "new.md": [{ text: "A new note." }] }));
    writer.close();
    expect(next).toMatchObject({ format: 2, revision: tableVersion + 1, createdAt: old.createdAt });
    const stored = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    expect(stored).toMatchObject({ format: 2, revision: tableVersion + 1 });
    expect(stored).not.toHaveProperty("tableVersion");
    expect((stored["lancedb"] as { tableVersion: number }).tableVersion).toBeGreaterThan(tableVersion);

    await writeFile(file, JSON.stringify({ ...old, format: 7 }));
    await expect(provider.open("c")).rejects.toMatchObject({ code: "rag.collection_corrupt", kind: "input" });
  });

  it("rolls back versions a crashed writer left uncommitted; readers never see them", async () => {
    const { dataDir, provider } = await seeded();
    // a writer that died after writing rows but before swapping the manifest
    const table = await tableOf(dataDir);
    const orphan = {
      id: "orphan",
      text: "orphan moon row",
      source: "ghost.md",
      page: null,
      heading: "[]",
      char_start: 0,
      char_end: 15,
      metadata: "{}",
      meta_kv: [],
      text_hash: "x",
      unit_key: "ghost.md",
      vector: Array.from(embedder.embed("orphan moon row")),
    };
    await table.add([orphan]);
    expect(await table.countRows()).toBe(CORPUS_CHUNKS + 1);
    table.close();

    const reader = await provider.open("c");
    expect(await reader.count()).toBe(CORPUS_CHUNKS);
    expect(await reader.searchText("orphan", { topK: 5 })).toEqual([]);
    reader.close();

    const writer = await provider.openOrCreate("c", INIT);
    expect(await writer.commit(change({ "new.md": [{ text: "A new note." }] }))).toMatchObject({
      chunks: CORPUS_CHUNKS + 1,
    });
    expect(await writer.chunksOf("ghost.md")).toEqual([]);
    writer.close();
  });

  it("a lock file of a live process is busy; one whose process is gone is taken over", async () => {
    const { dataDir, provider } = await seeded();
    const lockFile = path.join(dataDir, "collections/c/write.lock");
    const s = await provider.openOrCreate("c", INIT);
    await writeFile(lockFile, String(process.pid));
    await expect(s.commit(change({ "a.md": [{ text: "A." }] }))).rejects.toMatchObject({
      code: "rag.collection_busy",
      details: { pid: process.pid },
    });
    const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
    await writeFile(lockFile, String(gone));
    expect((await s.commit(change({ "a.md": [{ text: "A." }] }))).revision).toBe(2);
    await expect(readFile(lockFile)).rejects.toMatchObject({ code: "ENOENT" });
    s.close();

    // releasing removes the file only while it is still this lock's (not one taken over since)
    const lock = await provider.lock("c");
    await writeFile(lockFile, `${process.pid} another-writer`);
    await lock.release();
    expect(await readFile(lockFile, "utf8")).toBe(`${process.pid} another-writer`);
  });

  it("compaction prunes old table versions and the files of deleted rows", async () => {
    const { dataDir, provider } = await seeded();
    const s = await provider.openOrCreate("c", INIT);
    for (let i = 0; i < 3; i++) await s.commit(change({ "tides.md": [{ text: `Revision ${i} of the tide note.` }] }));
    s.close();
    const versions = async () => {
      const t = await tableOf(dataDir);
      const n = (await t.listVersions()).length;
      t.close();
      return n;
    };
    const before = await versions();
    const report = await provider.compact("c");
    expect(report.versionsRemoved).toBeGreaterThan(3);
    expect(report.bytesRemoved).toBeGreaterThan(0);
    expect(await versions()).toBeLessThan(before - 3);
    const r = await provider.open("c");
    expect(r.manifest.revision).toBe(4);
    expect(await r.count()).toBe(CORPUS_CHUNKS);
    r.close();
  });
});
