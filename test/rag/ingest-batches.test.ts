// Ingest in batches: each batch commits atomically, an abort keeps the committed batches, a re-run
// resumes (committed units skipped) and ends with the chunk set of an uninterrupted run; files that
// vanished are removed only by a run whose stream completed; a PDF's pages stay one unit.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makePdf } from "../../examples/make-sample-docs.js";
import type { ProgressEvent } from "../../src/core/progress.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { ingestPath, type IngestPathOptions } from "../../src/rag/pipeline/ingest.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));
const embedder = new HashingEmbedder();
const splitter = { kind: "markdown" as const, chunkSize: 120, overlap: 0 };

async function folder(n: number): Promise<string> {
  const dir = await tmp("docs");
  for (let i = 0; i < n; i++) {
    const name = `note-${String(i).padStart(2, "0")}.md`;
    await writeFile(
      path.join(dir, name),
      `# Note ${i}\n\nBuoy ${i} is moored at berth ${i % 5}.\n\n## Depth\n\n${i + 3} metres.`,
    );
  }
  return dir;
}

/** Every stored chunk (id, unit, text), sorted: the collection's content as readers see it. */
async function chunkSet(dataDir: string, name: string): Promise<string[]> {
  const store = await new LanceDbStoreProvider(dataDir).open(name);
  const out: string[] = [];
  for (const key of Object.keys(store.manifest.units))
    for (const c of await store.chunksOf(key)) out.push(`${key}|${c.id}|${c.text}`);
  expect(await store.count()).toBe(out.length); // no row outside a committed unit
  store.close();
  return out.sort();
}

/** Ingests with an abort fired as soon as the first batch has committed. */
async function interrupted(dir: string, dataDir: string, options: Partial<IngestPathOptions> = {}) {
  const controller = new AbortController();
  const events: ProgressEvent[] = [];
  const run = ingestPath("c", dir, {
    dataDir,
    embedder,
    splitter,
    batchSize: 4,
    signal: controller.signal,
    onProgress: (e) => {
      events.push(e);
      if (e.task === "commit") controller.abort();
    },
    ...options,
  });
  await expect(run).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });
  return events.filter((e) => e.task === "commit");
}

describe("ingest in batches", () => {
  it("an interrupted ingest keeps its first batch; the re-run resumes to the uninterrupted result", async () => {
    const dir = await folder(10);
    const whole = await tmp("data");
    const full = await ingestPath("c", dir, { dataDir: whole, embedder, splitter, batchSize: 4 });
    expect(full).toMatchObject({ batches: 3, chunksTotal: 20 });
    expect(full.added).toHaveLength(10);

    const dataDir = await tmp("data");
    const commits = await interrupted(dir, dataDir);
    expect(commits).toEqual([{ task: "commit", done: 4, unit: "files", note: "batch 1: 4 units, 8 chunks" }]);
    const kept = await new LanceDbStoreProvider(dataDir).manifest("c");
    expect(Object.keys(kept!.units).sort()).toEqual(["note-00.md", "note-01.md", "note-02.md", "note-03.md"]);
    expect(kept!.chunks).toBe(8);
    expect(await chunkSet(dataDir, "c")).toHaveLength(8);

    const resumed = await ingestPath("c", dir, { dataDir, embedder, splitter, batchSize: 4 });
    expect(resumed).toMatchObject({ unchanged: 4, updated: [], removed: [], chunksAdded: 12, chunksTotal: 20 });
    expect(resumed.added).toEqual(["04", "05", "06", "07", "08", "09"].map((i) => `note-${i}.md`));
    expect(await chunkSet(dataDir, "c")).toEqual(await chunkSet(whole, "c"));
  });

  it("commits when a batch reaches its chunk limit too", async () => {
    const dir = await folder(6);
    const report = await ingestPath("c", dir, { dataDir: await tmp("data"), embedder, splitter, batchChunks: 5 });
    // two chunks a file: a batch closes at the third file (6 chunks ≥ 5)
    expect(report).toMatchObject({ batches: 2, chunksTotal: 12 });
  });

  it("files that vanished are removed only by a run whose walk completed", async () => {
    const dir = await folder(10);
    const dataDir = await tmp("data");
    await ingestPath("c", dir, { dataDir, embedder, splitter });
    await rm(path.join(dir, "note-01.md"));
    await rm(path.join(dir, "note-08.md"));
    for (const i of [0, 2, 3, 4, 5, 6]) await writeFile(path.join(dir, `note-0${i}.md`), `# Changed ${i}\n\nNew text.`);

    await interrupted(dir, dataDir);
    const partial = await new LanceDbStoreProvider(dataDir).manifest("c");
    expect(Object.keys(partial!.units)).toHaveLength(10); // nothing removed by the partial run
    expect(partial!.units["note-01.md"]).toBeDefined();
    expect(partial!.units["note-08.md"]).toBeDefined();

    const done = await ingestPath("c", dir, { dataDir, embedder, splitter, batchSize: 4 });
    expect(done.removed).toEqual(["note-01.md", "note-08.md"]);
    expect(done.updated).toEqual(["note-05.md", "note-06.md"]);
    expect(done.unchanged).toBe(6);
    const after = await new LanceDbStoreProvider(dataDir).manifest("c");
    expect(Object.keys(after!.units).sort()).toEqual(
      ["00", "02", "03", "04", "05", "06", "07", "09"].map((i) => `note-${i}.md`),
    );
  });

  it("two ingests of one collection at once both commit, each file once (the lock is taken per commit)", async () => {
    const dir = await folder(10);
    const dataDir = await tmp("data");
    const [a, b] = await Promise.all([
      ingestPath("c", dir, { dataDir, embedder, splitter, batchSize: 2 }),
      ingestPath("c", dir, { dataDir, embedder, splitter, batchSize: 2 }),
    ]);
    expect(a.batches + b.batches).toBeGreaterThan(5);
    // a file both brought is reported by the one whose commit stored it
    expect([...a.added, ...b.added]).toHaveLength(10);
    expect(a.chunksAdded + b.chunksAdded).toBe(20);
    const m = (await new LanceDbStoreProvider(dataDir).manifest("c"))!;
    expect(Object.keys(m.units)).toHaveLength(10);
    expect(m.chunks).toBe(20);
    const store = await new LanceDbStoreProvider(dataDir).open("c");
    expect(await store.count()).toBe(20);
    store.close();
    // the next ingest finds everything committed
    expect(await ingestPath("c", dir, { dataDir, embedder, splitter })).toMatchObject({ unchanged: 10 });
  });

  it("streams a PDF page by page into one unit that no commit splits", async () => {
    const dir = await tmp("pdf");
    const pages = Array.from({ length: 8 }, (_, i) => [
      `Page ${i + 1} of the tide tables.`,
      `High water at ${i + 1} am.`,
    ]);
    await writeFile(path.join(dir, "tables.pdf"), await makePdf(pages));
    await writeFile(path.join(dir, "a.md"), "# A\n\nBefore the tables.");
    await writeFile(path.join(dir, "z.md"), "# Z\n\nAfter the tables.");
    const dataDir = await tmp("data");
    const commits: ProgressEvent[] = [];
    const report = await ingestPath("c", dir, {
      dataDir,
      embedder,
      splitter,
      batchChunks: 3,
      onProgress: (e) => {
        if (e.task === "commit") commits.push(e);
      },
    });
    expect(commits.map((e) => e.note)).toEqual([
      "batch 1: 2 units, 9 chunks", // a.md, then all eight pages of tables.pdf in the same commit
      "batch 2: 1 unit, 1 chunk",
    ]);
    expect(report.chunksTotal).toBe(10);
    const store = await new LanceDbStoreProvider(dataDir).open("c");
    expect((await store.chunksOf("tables.pdf")).map((c) => c.page)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    store.close();
  });
});
