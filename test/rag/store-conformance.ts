// The store conformance suite: the whole StoreProvider / CollectionStore contract, registered as
// vitest blocks for one provider. Every provider runs it (store-lancedb.test.ts for LanceDB); a
// new provider is done when it passes. Provider-specific behaviour is tested beside its runner.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CollectionStore, SearchOptions, StoreProvider, StoredChunk } from "../../src/rag/store/index.js";
import {
  CORPUS,
  CORPUS_CHUNKS,
  INIT,
  change,
  cosine,
  embedder,
  manyChunks,
  sha256,
  unitChunks,
} from "./store-fixtures.js";

export type ConformanceProvider = StoreProvider & { cleanup(): Promise<void> };

const texts = (hits: { chunk: { text: string } }[]) => hits.map((h) => h.chunk.text);

export function storeConformance(name: string, makeProvider: () => Promise<ConformanceProvider>): void {
  describe(`store conformance: ${name}`, () => {
    let provider: ConformanceProvider;
    const opened: CollectionStore[] = [];
    const track = (s: CollectionStore) => (opened.push(s), s);
    const open = async (n: string) => track(await provider.open(n));
    const create = async (n: string, init = INIT) => track(await provider.openOrCreate(n, init));
    /** A collection holding the corpus, committed once (revision 1). */
    const seeded = async (n = "c") => {
      const s = await create(n);
      await s.commit(change(CORPUS));
      return s;
    };

    beforeEach(async () => {
      provider = await makeProvider();
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) s.close();
      await provider.close();
      await provider.cleanup();
    });

    describe("collections", () => {
      it("exist once committed: list, manifest, open and delete", async () => {
        expect(provider.describe()).toMatch(/^[a-z]+:.+/);
        expect(await provider.list()).toEqual([]);
        const fresh = await create("c");
        expect(fresh.manifest).toMatchObject({ format: 2, name: "c", revision: 0, chunks: 0, units: {} });
        expect(await fresh.count()).toBe(0);
        expect(await provider.list()).toEqual([]);
        expect(await provider.manifest("c")).toBeUndefined();
        await expect(provider.open("c")).rejects.toMatchObject({ code: "rag.collection_not_found", kind: "not_found" });

        await fresh.commit(change(CORPUS));
        await seeded("b");
        expect(await provider.list()).toEqual([
          expect.objectContaining({
            name: "b",
            embedder: embedder.id,
            dimension: 512,
            chunks: CORPUS_CHUNKS,
            units: 3,
          }),
          expect.objectContaining({
            name: "c",
            embedder: embedder.id,
            dimension: 512,
            chunks: CORPUS_CHUNKS,
            units: 3,
          }),
        ]);
        const m = await provider.requireManifest("c");
        expect(m).toMatchObject({ format: 2, name: "c", revision: 1, chunks: CORPUS_CHUNKS });
        expect(m.embedder).toEqual({ id: embedder.id, spec: embedder.id, dimension: 512 });
        expect(m.splitter).toEqual(INIT.splitter);
        expect(Object.keys(m.units).sort()).toEqual(["harbour.pdf", "storms.md", "tides.md"]);
        expect(await (await open("c")).count()).toBe(CORPUS_CHUNKS);

        await provider.delete("c");
        expect((await provider.list()).map((c) => c.name)).toEqual(["b"]);
        await expect(provider.open("c")).rejects.toMatchObject({
          code: "rag.collection_not_found",
          details: { existing: ["b"] },
        });
        await expect(provider.delete("c")).rejects.toMatchObject({ code: "rag.collection_not_found" });
        await expect(provider.requireManifest("c")).rejects.toMatchObject({ code: "rag.collection_not_found" });
      });

      it("refuses invalid names", async () => {
        for (const bad of ["", "../up", "a/b", ".hidden", "x".repeat(65)]) {
          await expect(provider.openOrCreate(bad, INIT)).rejects.toMatchObject({ code: "rag.collection_name" });
        }
      });

      it("refuses another embedder, splitter or analyzer than the collection was built with", async () => {
        await seeded();
        const other = { ...INIT, embedder: { ...INIT.embedder, id: "hash-256", dimension: 256 } };
        await expect(provider.openOrCreate("c", other)).rejects.toMatchObject({ code: "rag.embedder_mismatch" });
        const widened = { ...INIT, embedder: { ...INIT.embedder, dimension: 1024 } };
        await expect(provider.openOrCreate("c", widened)).rejects.toMatchObject({ code: "rag.embedder_mismatch" });
        const split = { ...INIT, splitter: { ...INIT.splitter, chunkSize: 400 } };
        await expect(provider.openOrCreate("c", split)).rejects.toMatchObject({ code: "rag.splitter_mismatch" });
        await expect(provider.openOrCreate("c", { ...INIT, fts: { stem: false } })).rejects.toMatchObject({
          code: "rag.fts_mismatch",
        });
        const same = await create("c", { ...INIT, fts: { stem: true } });
        expect(same.manifest.revision).toBe(1);
      });

      it("keeps a remote embedder's provider, model and base URL, never a key", async () => {
        const endpoint = { provider: "openai" as const, model: "emb", baseUrl: "http://127.0.0.1:9/v1" };
        const leaky = { ...endpoint, apiKey: "sk-secret" };
        const s = await create("r", { ...INIT, embedder: { id: "openai:emb@x", spec: leaky, dimension: 512 } });
        await s.commit(change(CORPUS));
        const m = await provider.requireManifest("r");
        expect(m.embedder).toEqual({ id: "openai:emb@x", spec: "openai:emb", endpoint, dimension: 512 });
        expect(JSON.stringify(m)).not.toContain("sk-secret");

        // an older collection with only a spec string gets the endpoint with its next commit
        await seeded("old");
        const again = await create("old", { ...INIT, embedder: { ...INIT.embedder, spec: endpoint } });
        await again.commit(change({ "new.md": [{ text: "New note." }] }));
        expect((await provider.requireManifest("old")).embedder.endpoint).toEqual(endpoint);
      });
    });

    describe("commits", () => {
      it("increment the revision; units are replaced and removed", async () => {
        const s = await seeded();
        const first = s.manifest;
        expect(first.revision).toBe(1);
        const next = await s.commit(
          change(
            { "tides.md": [{ text: "Neap tides are the smallest tides." }, { text: "Spring tides are large." }] },
            ["storms.md"],
          ),
        );
        expect(next.revision).toBe(2);
        expect(next.createdAt).toBe(first.createdAt);
        expect(next.updatedAt >= first.updatedAt).toBe(true);
        expect(next.chunks).toBe(4);
        expect(Object.keys(next.units).sort()).toEqual(["harbour.pdf", "tides.md"]);
        expect(next.units["tides.md"]!.chunks).toBe(2);
        expect(s.manifest).toEqual(next);
        expect(await provider.requireManifest("c")).toEqual(next);

        const r = await open("c");
        expect(r.manifest.revision).toBe(2);
        expect(await r.count()).toBe(4);
        expect(await r.chunksOf("storms.md")).toEqual([]);
        expect(texts(await r.searchText("moon", { topK: 5 }))).toEqual([]);
        expect(texts(await r.searchText("neap", { topK: 5 }))).toEqual(["Neap tides are the smallest tides."]);
        const empty = await s.commit({ removeUnits: [], add: [], units: {} });
        expect(empty.revision).toBe(3);
      });

      it("an aborted commit leaves the previous revision, and the next commit works", async () => {
        const s = await seeded();
        const before = await provider.requireManifest("c");
        const controller = new AbortController();
        const big = change({ ...manyChunks("buoys.md", 3000), "tides.md": [{ text: "Replaced tide text." }] });
        await expect(
          s.commit(big, { signal: controller.signal, onStored: () => controller.abort() }),
        ).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });
        expect(s.manifest).toEqual(before);
        expect(await provider.requireManifest("c")).toEqual(before);
        const r = await open("c");
        expect(await r.count()).toBe(CORPUS_CHUNKS);
        expect(texts(await r.searchText("moon", { topK: 5 }))).toEqual([
          "The tide rises twice a day because of the moon.",
        ]);
        expect(texts(await r.searchText("lantern", { topK: 5 }))).toEqual([]);

        const done = await s.commit(change({ "new.md": [{ text: "A new note about lanterns." }] }));
        expect(done).toMatchObject({ revision: 2, chunks: CORPUS_CHUNKS + 1 });
        expect(await (await open("c")).chunksOf("tides.md")).toHaveLength(1);
      });

      it("a new collection whose first commit aborts does not exist, and can be created again", async () => {
        const s = await create("fresh");
        const controller = new AbortController();
        controller.abort();
        await expect(s.commit(change(CORPUS), { signal: controller.signal })).rejects.toMatchObject({
          code: "cancelled",
        });
        expect(await provider.list()).toEqual([]);
        await expect(provider.open("fresh")).rejects.toMatchObject({ code: "rag.collection_not_found" });
        const again = await create("fresh");
        expect((await again.commit(change(CORPUS))).revision).toBe(1);
      });

      it("readers stay at the revision they opened; a reader during a commit sees one whole revision", async () => {
        const s = await seeded();
        const early = await open("c"); // opened, not read yet
        const read = await open("c");
        expect(await read.count()).toBe(CORPUS_CHUNKS);
        await s.commit(change({ "tides.md": [{ text: "Tide tables are printed weekly." }] }));
        for (const r of [early, read]) {
          expect(r.manifest.revision).toBe(1);
          expect(await r.count()).toBe(CORPUS_CHUNKS);
          expect(texts(await r.searchText("moon", { topK: 5 }))).toHaveLength(1);
          expect(texts(await r.searchText("printed", { topK: 5 }))).toEqual([]);
          expect(await r.chunksOf("tides.md")).toEqual([
            expect.objectContaining({ text: CORPUS["tides.md"]![0]!.text }),
          ]);
        }

        let finished = false;
        const commit = s.commit(change(manyChunks("buoys.md", 3000))).finally(() => (finished = true));
        do {
          const r = await open("c");
          const count = await r.count();
          expect(count).toBe(r.manifest.chunks);
          expect([2, 3]).toContain(r.manifest.revision);
          const buoys = await r.searchText("lantern", { topK: 1 });
          expect(buoys.length).toBe(r.manifest.revision === 3 ? 1 : 0);
          r.close();
        } while (!finished);
        await commit;
        expect((await open("c")).manifest).toMatchObject({ revision: 3, chunks: CORPUS_CHUNKS + 3000 });
      });
    });

    describe("search", () => {
      it("dense search ranks by cosine similarity and reports it as the score", async () => {
        const s = await seeded();
        const query = embedder.embed("when does the tide rise with the moon");
        const hits = await s.searchDense(query, { topK: 10 });
        expect(hits).toHaveLength(CORPUS_CHUNKS);
        expect(hits[0]!.chunk.source).toBe("tides.md");
        for (const h of hits) expect(h.score).toBeCloseTo(cosine(query, embedder.embed(h.chunk.text)), 4);
        for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);
        const [self] = await s.searchDense(embedder.embed(CORPUS["storms.md"]![1]!.text), { topK: 1 });
        expect(self!.chunk).toMatchObject({ source: "storms.md", headingPath: ["Storms", "Fog"] });
        expect(self!.score).toBeCloseTo(1, 4);
        expect(await s.searchDense(query, { topK: 2 })).toHaveLength(2);
        await expect(s.searchDense(new Float32Array(8), { topK: 1 })).rejects.toMatchObject({
          code: "rag.dimension_mismatch",
        });
      });

      it("full-text search ranks by BM25 with the collection's analyzer", async () => {
        const s = await seeded();
        const hits = await s.searchText("fuel dock berths", { topK: 5 });
        expect(hits[0]!.chunk).toMatchObject({ source: "harbour.pdf", page: 1 });
        for (const h of hits) expect(h.score).toBeGreaterThan(0);
        for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);
        // English stemming: "flooding" finds "flood", "closed" finds "closes"
        expect(texts(await s.searchText("flooding", { topK: 5 }))).toEqual(["Storm surges flood the quay in winter."]);
        expect(texts(await s.searchText("closed", { topK: 5 }))).toEqual([
          "Fog closes the harbour on autumn mornings.",
        ]);
        expect(await s.searchText("zeppelin", { topK: 5 })).toEqual([]);
        expect(await s.searchText("  ", { topK: 5 })).toEqual([]);
      });

      it("filters on metadata (repeated values are OR), source and page, in both searches", async () => {
        const s = await seeded();
        const query = embedder.embed("harbour");
        const sources = async (filter: SearchOptions["filter"]) => {
          const dense = await s.searchDense(query, { topK: 10, ...(filter ? { filter } : {}) });
          return dense.map((h) => `${h.chunk.source}:${h.chunk.page ?? h.chunk.text.split(" ")[0]}`).sort();
        };
        expect(await sources({ topic: "weather" })).toEqual(["storms.md:Fog", "storms.md:Storm"]);
        expect(await sources({ lang: ["en", "de"] })).toEqual(["storms.md:Fog", "storms.md:Storm", "tides.md:The"]);
        expect(await sources({ lang: "en", topic: "weather" })).toEqual(["storms.md:Storm"]);
        expect(await sources({ year: 2021 })).toEqual(["harbour.pdf:2"]);
        expect(await sources({ source: "harbour.pdf" })).toEqual(["harbour.pdf:1", "harbour.pdf:2"]);
        expect(await sources({ source: ["harbour.pdf", "tides.md"], page: [2] })).toEqual(["harbour.pdf:2"]);
        expect(await sources({ topic: "none" })).toEqual([]);
        const text = await s.searchText("harbour", { topK: 10, filter: { source: "storms.md" } });
        expect(texts(text)).toEqual(["Fog closes the harbour on autumn mornings."]);
      });

      it("takes a source glob or folder as a pattern (filter.ts), its SQL wildcards literal", async () => {
        const s = await seeded();
        const sources = async (source: string | string[]) =>
          [
            ...new Set(
              (await s.searchDense(embedder.embed("harbour"), { topK: 10, filter: { source } })).map(
                (h) => h.chunk.source,
              ),
            ),
          ].sort();
        expect(await sources("*.md")).toEqual(["storms.md", "tides.md"]);
        expect(await sources("st?rms.md")).toEqual(["storms.md"]);
        expect(await sources(["harbour.pdf", "t*"])).toEqual(["harbour.pdf", "tides.md"]);
        expect(await sources("sto_ms.md")).toEqual([]);
        expect(await sources("%.md")).toEqual([]);
        expect(await sources("storms/")).toEqual([]);
        const text = await s.searchText("harbour", { topK: 10, filter: { source: "*.pdf" } });
        expect(new Set(text.map((h) => h.chunk.source))).toEqual(new Set(["harbour.pdf"]));
      });
    });

    describe("reading back", () => {
      it("chunksOf returns a unit's chunks whole, in document order", async () => {
        const s = await seeded();
        const strip = ({ vector: _v, textHash: _h, unitKey: _u, ...c }: StoredChunk) => c;
        expect(await s.chunksOf("storms.md")).toEqual(unitChunks("storms.md", CORPUS["storms.md"]!).map(strip));
        expect(await s.chunksOf("harbour.pdf")).toEqual(unitChunks("harbour.pdf", CORPUS["harbour.pdf"]!).map(strip));
        expect(await s.chunksOf("missing.md")).toEqual([]);
      });

      it("vectorsByHash returns stored vectors by text hash (the embedding cache)", async () => {
        const fresh = await create("c");
        expect((await fresh.vectorsByHash([sha256("x")])).size).toBe(0);
        await fresh.commit(change(CORPUS));
        const text = CORPUS["tides.md"]![0]!.text;
        const found = await fresh.vectorsByHash([sha256(text), sha256("never stored"), sha256(text)]);
        expect([...found.keys()]).toEqual([sha256(text)]);
        expect(Array.from(found.get(sha256(text))!)).toEqual(Array.from(embedder.embed(text)));
        const all = Object.values(CORPUS).flatMap((specs) => specs.map((c) => sha256(c.text)));
        expect((await (await open("c")).vectorsByHash(all)).size).toBe(CORPUS_CHUNKS);
      });
    });

    describe("writers", () => {
      it("one writer at a time: the lock refuses other writers until released", async () => {
        const s = await seeded();
        const lock = await provider.lock("c");
        expect(lock).toMatchObject({ collection: "c", store: provider.describe(), held: true });
        await expect(provider.lock("c")).rejects.toMatchObject({ code: "rag.collection_busy", kind: "io" });
        const note = change({ "a.md": [{ text: "Note a." }] });
        await expect(s.commit(note)).rejects.toMatchObject({ code: "rag.collection_busy" });
        await expect(provider.delete("c")).rejects.toMatchObject({ code: "rag.collection_busy" });
        expect((await s.commit(note, { lock })).revision).toBe(2);
        expect((await s.commit(change({ "b.md": [{ text: "Note b." }] }), { lock })).revision).toBe(3);
        await lock.release();
        expect(lock.held).toBe(false);
        await expect(s.commit(note, { lock })).rejects.toMatchObject({ code: "rag.lock_invalid" });
        const other = await seeded("d");
        const otherLock = await provider.lock("d");
        await expect(s.commit(note, { lock: otherLock })).rejects.toMatchObject({ code: "rag.lock_invalid" });
        await otherLock.release();
        expect((await other.commit(note)).revision).toBe(2);
        expect((await s.commit(note)).revision).toBe(4);
      });

      it("a writer whose snapshot is stale is refused with rag.collection_changed", async () => {
        const a = await seeded();
        const b = await create("c");
        await a.commit(change({ "a.md": [{ text: "Note a." }] }));
        await expect(b.commit(change({}, ["tides.md"]))).rejects.toMatchObject({
          code: "rag.collection_changed",
          kind: "io",
        });
        expect(Object.keys((await provider.requireManifest("c")).units)).toEqual(
          expect.arrayContaining(["a.md", "tides.md"]),
        );
        const x = await create("n");
        const y = await create("n");
        await x.commit(change(CORPUS));
        await expect(y.commit(change(CORPUS))).rejects.toMatchObject({ code: "rag.collection_changed" });
      });

      it("rebase: a stale writer waits for the lock, lands on the latest revision, stores each unit once", async () => {
        const a = await seeded();
        const b = await create("c");
        await a.commit(change({ "a.md": [{ text: "Note a." }] }));
        // b still sees revision 1: a.md is replayed by content hash (kept once), b.md added
        const m = await b.commit(change({ "a.md": [{ text: "Note a." }], "b.md": [{ text: "Note b." }] }), {
          rebase: true,
        });
        expect(m.revision).toBe(3);
        expect(Object.keys(m.units)).toEqual(expect.arrayContaining(["a.md", "b.md", "tides.md"]));
        expect(await (await open("c")).count()).toBe(CORPUS_CHUNKS + 2);
        // nothing new: no revision; other content under a known key: replaced
        expect((await b.commit(change({ "b.md": [{ text: "Note b." }] }), { rebase: true })).revision).toBe(3);
        expect((await a.commit(change({ "b.md": [{ text: "Note b, revised." }] }), { rebase: true })).revision).toBe(4);
        const c = await open("c");
        expect(await c.count()).toBe(CORPUS_CHUNKS + 2);
        expect(texts(await c.searchText("revised", { topK: 5 }))).toEqual(["Note b, revised."]);
        // a held lock is waited for, not refused
        const lock = await provider.lock("c");
        const waiting = b.commit(change({ "w.md": [{ text: "Note w." }] }), { rebase: true });
        await new Promise((r) => setTimeout(r, 150));
        await lock.release();
        expect((await waiting).revision).toBe(5);
        // two writers creating one collection: the second replays onto the first's commit
        const x = await create("n");
        const y = await create("n");
        await x.commit(change(CORPUS));
        expect((await y.commit(change(CORPUS), { rebase: true })).revision).toBe(1);
        expect(await (await open("n")).count()).toBe(CORPUS_CHUNKS);
      });

      it("compaction keeps the data and the revision; writers opened before it still commit", async () => {
        const s = await seeded();
        for (let i = 0; i < 3; i++)
          await s.commit(change({ "tides.md": [{ text: `Revision ${i} of the tide note.` }] }));
        const before = await provider.requireManifest("c");
        const writer = await create("c");
        const report = await provider.compact("c");
        expect(report.collection).toBe("c");
        expect(await provider.requireManifest("c")).toEqual(before);
        const r = await open("c");
        expect(await r.count()).toBe(CORPUS_CHUNKS);
        expect(texts(await r.searchText("revision", { topK: 5 }))).toEqual(["Revision 2 of the tide note."]);
        expect(await r.chunksOf("harbour.pdf")).toHaveLength(2);
        const next = await writer.commit(change({ "later.md": [{ text: "Written after compaction." }] }));
        expect(next).toMatchObject({ revision: before.revision + 1, chunks: CORPUS_CHUNKS + 1 });
        expect((await provider.compact("c")).collection).toBe("c");
        expect(await (await open("c")).count()).toBe(CORPUS_CHUNKS + 1);
      });
    });
  });
}
