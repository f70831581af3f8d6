// Ingest through the collection store: re-ingest sync (changed, deleted, unchanged), vectors
// reused by content hash, the embedder checked on ingest and retrieval, and an abort while
// embedding or storing leaving the previous state. The store's own contract is tested by the
// conformance suite (store-conformance.ts, run for LanceDB by store-lancedb.test.ts).
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { ingestPath, ingestRecords } from "../../src/rag/pipeline/ingest.js";
import { createRetriever } from "../../src/rag/retrieve/index.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));
const embedder = new HashingEmbedder();

async function corpus(): Promise<string> {
  const dir = await tmp("docs");
  await mkdir(path.join(dir, "sub"));
  await writeFile(path.join(dir, "tides.md"), "# Tides\n\nThe tide rises twice a day because of the moon.");
  await writeFile(path.join(dir, "storms.md"), "# Storms\n\nStorm surges flood the quay in winter.");
  await writeFile(path.join(dir, "sub/harbour.txt"), "The harbour has six berths and a fuel dock.");
  return dir;
}

describe("ingest into a collection store", () => {
  it("re-ingest updates changed files, removes deleted ones, leaves the rest, and reuses vectors by content", async () => {
    const docs = await corpus();
    const dataDir = await tmp("data");
    const first = await ingestPath("c", docs, {
      dataDir,
      embedder,
      splitter: { kind: "markdown", chunkSize: 200, overlap: 0 },
    });
    expect(first).toMatchObject({
      added: ["storms.md", "sub/harbour.txt", "tides.md"],
      chunksTotal: 3,
      embedded: 3,
      cached: 0,
    });
    const before = await new LanceDbStoreProvider(dataDir).manifest("c");
    const tidesIngestedAt = before!.units["tides.md"]!.ingestedAt;

    await writeFile(
      path.join(docs, "storms.md"),
      "# Storms\n\nStorm surges flood the quay in winter.\n\n# Fog\n\nFog closes the harbour.",
    );
    await rm(path.join(docs, "sub/harbour.txt"));
    const second = await ingestPath("c", docs, {
      dataDir,
      embedder,
      splitter: { kind: "markdown", chunkSize: 200, overlap: 0 },
    });
    expect(second).toMatchObject({
      added: [],
      updated: ["storms.md"],
      removed: ["sub/harbour.txt"],
      unchanged: 1,
      chunksTotal: 3,
    });
    // the storms section is unchanged text: its vector is reused, only the fog section is embedded
    expect(second).toMatchObject({ embedded: 1, cached: 1 });

    const after = await new LanceDbStoreProvider(dataDir).manifest("c");
    expect(after!.units["tides.md"]!.ingestedAt).toBe(tidesIngestedAt);
    expect(Object.keys(after!.units).sort()).toEqual(["storms.md", "tides.md"]);
    expect(after!.embedder).toEqual({ id: "hash-512", spec: "hash-512", dimension: 512 });
    expect(after!.splitter).toEqual({ kind: "markdown", chunkSize: 200, overlap: 0 });

    const store = await new LanceDbStoreProvider(dataDir).open("c");
    expect(await store.count()).toBe(3);
    expect(await store.chunksOf("sub/harbour.txt")).toEqual([]);
    expect((await store.chunksOf("storms.md")).map((c) => c.headingPath)).toEqual([["Storms"], ["Fog"]]);
    store.close();

    const third = await ingestPath("c", docs, {
      dataDir,
      embedder,
      splitter: { kind: "markdown", chunkSize: 200, overlap: 0 },
    });
    expect(third).toMatchObject({ unchanged: 2, chunksAdded: 0, embedded: 0 });
    expect((await new LanceDbStoreProvider(dataDir).manifest("c"))!.revision).toBe(after!.revision);
  });

  it("an ingest aborted while storing leaves the previous version readable, and the next ingest works", async () => {
    const docs = await corpus();
    const dataDir = await tmp("data");
    await ingestPath("c", docs, { dataDir, embedder });
    const before = await new LanceDbStoreProvider(dataDir).manifest("c");
    for (let i = 0; i < 40; i++)
      await writeFile(path.join(docs, `extra-${i}.md`), `Extra note ${i} about buoys and ${"chains ".repeat(i)}.`);
    await writeFile(path.join(docs, "tides.md"), "# Tides\n\nChanged: the tide rises twice a day.");
    const controller = new AbortController();
    const aborted = ingestPath("c", docs, {
      dataDir,
      embedder,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.task === "store") controller.abort();
      },
    });
    await expect(aborted).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });

    expect(await new LanceDbStoreProvider(dataDir).manifest("c")).toEqual(before);
    const store = await new LanceDbStoreProvider(dataDir).open("c");
    expect(await store.count()).toBe(3);
    const hits = await createRetriever("bm25", store, undefined).retrieve("moon", { topK: 3 });
    expect(hits.map((h) => h.chunk.text)).toEqual(["# Tides\n\nThe tide rises twice a day because of the moon."]);
    store.close();

    const retry = await ingestPath("c", docs, { dataDir, embedder });
    expect(retry).toMatchObject({ updated: ["tides.md"], chunksTotal: 43 });
    expect(retry.added).toHaveLength(40);
  });

  it("an ingest aborted while embedding writes nothing; a new collection aborted does not exist", async () => {
    const docs = await corpus();
    const dataDir = await tmp("data");
    const controller = new AbortController();
    controller.abort();
    await expect(ingestPath("fresh", docs, { dataDir, embedder, signal: controller.signal })).rejects.toMatchObject({
      code: "cancelled",
    });
    expect(await new LanceDbStoreProvider(dataDir).list()).toEqual([]);
    await expect(new LanceDbStoreProvider(dataDir).open("fresh")).rejects.toMatchObject({
      code: "rag.collection_not_found",
      kind: "not_found",
    });
  });

  it("refuses another embedder on ingest and on dense retrieval; lists and deletes", async () => {
    const docs = await corpus();
    const dataDir = await tmp("data");
    await ingestPath("c", docs, { dataDir, embedder });
    const other = new HashingEmbedder({ dimension: 256 });
    await expect(ingestPath("c", docs, { dataDir, embedder: other })).rejects.toMatchObject({
      code: "rag.embedder_mismatch",
      kind: "usage",
    });
    expect(await ingestPath("c", docs, { dataDir, embedder, fts: { stem: true } })).toMatchObject({ unchanged: 3 });
    const store = await new LanceDbStoreProvider(dataDir).open("c");
    expect(() => createRetriever("dense", store, other)).toThrow(/was built with embedder hash-512/);
    store.close();
    expect(await new LanceDbStoreProvider(dataDir).list()).toEqual([
      expect.objectContaining({ name: "c", embedder: "hash-512", dimension: 512, chunks: 3, units: 3 }),
    ]);
    await new LanceDbStoreProvider(dataDir).delete("c");
    expect(await new LanceDbStoreProvider(dataDir).list()).toEqual([]);
  });

  it("ingestRecords: one chunk per record with doc_id, add/update by content, optional removal", async () => {
    const dataDir = await tmp("data");
    const records = [
      { id: "d1", title: "Moon", text: "The moon drives tides.", metadata: { year: 2020 } },
      { id: "d2", text: "Winds drive waves." },
    ];
    const first = await ingestRecords("r", records, { dataDir, embedder, splitter: { kind: "none" }, source: "beir" });
    expect(first).toMatchObject({ added: ["beir#d1", "beir#d2"], chunksTotal: 2 });
    const store = await new LanceDbStoreProvider(dataDir).open("r");
    const [hit] = await createRetriever("bm25", store, undefined).retrieve("moon", { topK: 1 });
    expect(hit!.chunk).toMatchObject({
      source: "beir",
      text: "Moon\nThe moon drives tides.",
      metadata: { doc_id: "d1", title: "Moon", year: 2020 },
    });
    store.close();
    const second = await ingestRecords("r", [records[0]!, { id: "d3", text: "Currents." }], {
      dataDir,
      embedder,
      splitter: { kind: "none" },
      source: "beir",
      removeMissing: true,
    });
    expect(second).toMatchObject({ added: ["beir#d3"], removed: ["beir#d2"], unchanged: 1, chunksTotal: 2 });
  });
});
