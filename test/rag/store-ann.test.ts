// LanceDB's ANN index: built by the commit that takes a collection past `ann.minRows`, recorded in
// the manifest with its search parameters, kept on reopen, rebuilt when the collection has doubled;
// dense search through it finds what exact search finds, and rows added after it are still found
// (dense and BM25). Small clustered vectors keep the test light.
import { describe, expect, it } from "vitest";
import { annParams } from "../../src/rag/store/lance-index.js";
import { LanceDbStoreProvider, type CollectionStore, type StoredChunk } from "../../src/rag/store/index.js";
import { tempDir } from "../train/helpers.js";

const DIM = 16;
const SPLITTER = { kind: "none" as const, chunkSize: 1000, overlap: 0 };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function unit(v: number[]): Float32Array {
  const n = Math.hypot(...v) || 1;
  return Float32Array.from(v, (x) => x / n);
}

const r = rng(1);
const centres = Array.from({ length: 8 }, () => Array.from({ length: DIM }, () => r() - 0.5));

function vector(i: number): Float32Array {
  const c = centres[i % centres.length]!;
  const g = rng(i + 100);
  return unit(c.map((x) => x + 0.15 * (g() - 0.5)));
}

function chunks(from: number, to: number, unitKey: string): StoredChunk[] {
  return Array.from({ length: to - from }, (_, k) => {
    const i = from + k;
    return {
      id: `c${i}`,
      text: `chunk ${i} about topic${i % 8}${i === to - 1 ? " zanzibar" : ""}`,
      source: unitKey,
      start: 0,
      end: 10,
      metadata: {},
      vector: vector(i),
      textHash: `h${i}`,
      unitKey,
    };
  });
}

async function commit(store: CollectionStore, from: number, to: number): Promise<void> {
  const key = `u${from}`;
  await store.commit({
    add: chunks(from, to, key),
    removeUnits: [],
    units: { [key]: { root: "r", hash: key, chunks: to - from, ingestedAt: new Date().toISOString() } },
  });
}

describe("LanceDB ANN index", () => {
  it("is built past minRows, recorded in the manifest, searched with its parameters and rebuilt when the collection doubles", async () => {
    const dir = tempDir("infuse-ann-");
    const provider = new LanceDbStoreProvider(dir, { ann: { minRows: 600, kind: "ivf_pq" } });
    const init = { embedder: { id: "test", spec: "test", dimension: DIM }, splitter: SPLITTER };
    const store = await provider.openOrCreate("big", init);
    await commit(store, 0, 400);
    expect(store.manifest.vectorIndex).toBeUndefined(); // exact search below the threshold
    await commit(store, 400, 700);
    const index = store.manifest.vectorIndex!;
    expect(index).toMatchObject({
      metric: "cosine",
      rows: 700,
      ...annParams(700, DIM, { minRows: 600, kind: "ivf_pq" }),
    });
    expect(index.params["num_partitions"]).toBe(26);

    // reopened: the manifest still names the index; results match exact search (clustered data)
    const reopened = await provider.open("big");
    expect(reopened.manifest.vectorIndex).toEqual(index);
    let found = 0;
    for (const q of [3, 50, 333, 612]) {
      const hits = await reopened.searchDense(vector(q), { topK: 10 });
      expect(hits[0]!.chunk.id).toBe(`c${q}`);
      found += hits.length;
    }
    expect(found).toBe(40);

    // rows after the index are found at once (dense and BM25); doubling retrains it
    await commit(reopened, 700, 900);
    const late = await reopened.searchDense(vector(850), { topK: 5 });
    expect(late[0]!.chunk.id).toBe("c850");
    expect((await reopened.searchText("zanzibar", { topK: 5 })).map((h) => h.chunk.id)).toEqual(
      expect.arrayContaining(["c899", "c699"]),
    );
    expect(reopened.manifest.vectorIndex!.rows).toBe(700);
    await commit(reopened, 900, 1500);
    expect(reopened.manifest.vectorIndex!.rows).toBe(1500);
    expect(reopened.manifest.chunks).toBe(1500);
    expect(await reopened.count()).toBe(1500);
    reopened.close();
    store.close();
  }, 60_000);

  it("has parameters that grow with the collection, and an IVF-HNSW-SQ variant", () => {
    const pq = annParams(1_000_000, 384, { minRows: 1, kind: "ivf_pq" });
    expect(pq).toEqual({
      kind: "ivf_pq",
      params: { num_partitions: 1000, num_sub_vectors: 96, num_bits: 8 },
      search: { nprobes: 40, refine_factor: 10 },
    });
    const hnsw = annParams(1_000_000, 384, { minRows: 1, kind: "ivf_hnsw_sq", ef: 80 });
    expect(hnsw).toMatchObject({ kind: "ivf_hnsw_sq", params: { num_partitions: 10 }, search: { ef: 80 } });
  });
});
