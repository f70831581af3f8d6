// The Postgres + pgvector provider: the store conformance suite, each test in a fresh schema of
// the test server, then what only a server store has: two writers ingesting one folder at once,
// a failed batch invisible to readers, SQL filters with hostile values, migrations, and clear
// errors (password masked) for a bad or unreachable store.url.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { isInfuseError } from "../../src/core/errors.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import {
  LanceDbStoreProvider,
  PostgresStoreProvider,
  storeProvider,
  type PostgresStoreOptions,
} from "../../src/rag/store/index.js";
import { runCli } from "../helpers/cli.js";
import { serviceUrl } from "../helpers/services.js";
import { storeConformance } from "./store-conformance.js";
import { CORPUS, CORPUS_CHUNKS, INIT, change, embedder } from "./store-fixtures.js";

const base = serviceUrl("postgres");
const schemas: string[] = [];

/** A provider on a schema of its own (dropped after the file). */
function fresh(options: PostgresStoreOptions = {}): PostgresStoreProvider {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  const u = new URL(base!);
  u.searchParams.set("schema", schema);
  return new PostgresStoreProvider(u.toString(), options);
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: base! });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  if (!base || schemas.length === 0) return;
  await admin(async (c) => {
    for (const s of schemas.splice(0)) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  });
});

if (base) {
  storeConformance("postgres", () => {
    const provider = fresh();
    const schema = provider.target.schema;
    return Promise.resolve(
      Object.assign(provider, {
        cleanup: () => admin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => undefined),
      }),
    );
  });
}

describe.skipIf(!base)("Postgres store provider", () => {
  it("two providers ingesting one folder at once end with every file once (no duplicates, no gaps)", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-pg-ingest-"));
    const files = 24;
    for (let i = 0; i < files; i++) {
      await writeFile(path.join(dir, `note-${i}.md`), `# Note ${i}\n\nBuoy ${i} carries lantern ${i % 5}.\n`);
    }
    const a = fresh();
    const b = new PostgresStoreProvider(a.describe()); // same schema, its own pool
    // a worker whose ingest meets another writer waits and runs again, as a queue job is retried
    const worker = async (provider: PostgresStoreProvider) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await ingestPath("shared", dir, { dataDir: dir, store: provider, embedder, batchSize: 3 });
        } catch (e) {
          if (!isInfuseError(e) || !["rag.collection_busy", "rag.collection_changed"].includes(e.code)) throw e;
          if (attempt > 200) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const [ra, rb] = await Promise.all([worker(a), worker(b)]);
    expect(ra.added.length + rb.added.length).toBe(files);
    const m = await a.requireManifest("shared");
    expect(Object.keys(m.units)).toHaveLength(files);
    const store = await a.open("shared");
    expect(await store.count()).toBe(m.chunks);
    const perFile = await Promise.all(
      Array.from({ length: files }, async (_, i) => (await store.chunksOf(`note-${i}.md`)).length),
    );
    for (let i = 0; i < files; i++) expect(perFile[i]).toBe(m.units[`note-${i}.md`]!.chunks);
    // the database agrees: no live chunk twice, and every live row belongs to a listed file
    const rows = await admin((c) =>
      c.query<{ rows: string; distinct: string; units: string }>(
        `SELECT count(*) AS rows, count(DISTINCT (unit_key, chunk_id)) AS distinct, count(DISTINCT unit_key) AS units
         FROM ${a.target.schema}.chunks_1 WHERE rev_removed IS NULL`,
      ),
    );
    expect(rows.rows[0]).toEqual({ rows: String(m.chunks), distinct: String(m.chunks), units: String(files) });
    await a.close();
    await b.close();
  });

  it("a batch that fails half-way leaves readers on the previous revision", async () => {
    const provider = fresh();
    const s = await provider.openOrCreate("c", INIT);
    await s.commit(change(CORPUS));
    const reader = await provider.open("c");
    // the second row's vector has the wrong dimension: the server refuses it after the first row went in
    const bad = change({ "new.md": [{ text: "A lantern note." }, { text: "Another lantern note." }] });
    bad.add[1]!.vector = new Float32Array(7);
    await expect(s.commit(bad)).rejects.toMatchObject({ code: "store.query_failed", kind: "io" });
    expect(s.manifest.revision).toBe(1);
    for (const r of [reader, await provider.open("c")]) {
      expect(r.manifest.revision).toBe(1);
      expect(await r.count()).toBe(CORPUS_CHUNKS);
      expect(await r.searchText("lantern", { topK: 5 })).toEqual([]);
    }
    const rows = await admin((c) => c.query(`SELECT count(*)::int AS n FROM ${provider.target.schema}.chunks_1`));
    expect(rows.rows[0]).toEqual({ n: CORPUS_CHUNKS });
    expect((await s.commit(change({ "new.md": [{ text: "A lantern note." }] }))).revision).toBe(2);
    await provider.close();
  });

  it("filters are parameters: quotes and SQL in keys and values match literally", async () => {
    const provider = fresh();
    const s = await provider.openOrCreate("c", INIT);
    const hostile = "x'); DROP TABLE collections; --";
    await s.commit(
      change({
        "q.md": [{ text: "Quoted harbour note.", metadata: { [hostile]: hostile, tag: "o'neil" } }],
        ...CORPUS,
      }),
    );
    const q = embedder.embed("harbour");
    const sources = async (filter: Record<string, string | string[]>) =>
      (await s.searchDense(q, { topK: 10, filter })).map((h) => h.chunk.source).sort();
    expect(await sources({ tag: "o'neil" })).toEqual(["q.md"]);
    expect(await sources({ [hostile]: hostile })).toEqual(["q.md"]);
    expect(await sources({ source: hostile })).toEqual([]);
    expect(await sources({ tag: ["o'neil", "none"], source: ["q.md"] })).toEqual(["q.md"]);
    expect((await s.searchText("harbour", { topK: 10, filter: { tag: "o'neil" } })).map((h) => h.chunk.source)).toEqual(
      ["q.md"],
    );
    await expect(s.searchDense(q, { topK: 5, filter: { page: ["1; DROP"] } })).rejects.toMatchObject({
      code: "rag.filter_page",
    });
    expect((await provider.list()).map((c) => c.name)).toEqual(["c"]);
    await provider.close();
  });

  it("BM25 scores equal LanceDB's on the same chunks (same analyzer, stop words on stems, repeated terms)", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-pg-bm25-"));
    const lance = new LanceDbStoreProvider(dir);
    const provider = fresh();
    const docs = {
      "a.md": [
        { text: "Only T cells can be doing this: the cells keep dividing." },
        { text: "Café owners were having doubts; the café's crema is naïve." },
        { text: `A ${"x".repeat(39)} token and a ${"y".repeat(41)} token, cells once more.` },
        { text: "Cells, cells and cells: dividing cells divide while T helpers watch." },
        { text: "Nothing here matches the others except the word only." },
      ],
    };
    for (const p of [lance, provider]) await (await p.openOrCreate("c", INIT)).commit(change(docs));
    const l = await lance.open("c");
    const g = await provider.open("c");
    for (const q of [
      "cells dividing",
      "T cells can",
      "only doing",
      "cafe naive crema",
      "cells cells once",
      "xxxxxxxxx",
    ]) {
      const a = await l.searchText(q, { topK: 5 });
      const b = await g.searchText(q, { topK: 5 });
      expect(
        b.map((h) => h.chunk.text),
        q,
      ).toEqual(a.map((h) => h.chunk.text));
      b.forEach((h, i) => expect(h.score, q).toBeCloseTo(a[i]!.score, 3));
    }
    l.close();
    await provider.close();
  });

  it("builds the HNSW index (cosine) once a collection reaches its size, and dense search uses it", async () => {
    const provider = fresh({ hnswMinRows: 6 });
    const indexes = () =>
      admin(async (c) =>
        (
          await c.query<{ indexdef: string }>(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%hnsw%'",
            [provider.target.schema],
          )
        ).rows.map((r) => r.indexdef),
      );
    const s = await provider.openOrCreate("c", INIT);
    await s.commit(change(CORPUS));
    expect(await indexes()).toEqual([]);
    await s.commit(change({ "more.md": [{ text: "One more note about the tide." }] }));
    expect(await indexes()).toEqual([expect.stringContaining("USING hnsw (embedding vector_cosine_ops)")]);
    const plan = await admin(async (c) => {
      await c.query(`SET search_path = ${provider.target.schema}, public`);
      await c.query("SET enable_seqscan = off");
      const r = await c.query(`EXPLAIN SELECT row_id FROM chunks_1 ORDER BY embedding <=> $1::vector LIMIT 3`, [
        `[${Array.from(embedder.embed("tide")).join(",")}]`,
      ]);
      return r.rows.map((x: Record<string, string>) => Object.values(x)[0]).join("\n");
    });
    expect(plan).toContain("chunks_1_hnsw");
    const [top] = await s.searchDense(embedder.embed(CORPUS["storms.md"]![1]!.text), { topK: 1 });
    expect(top!.score).toBeCloseTo(1, 4);
    await provider.close();
  });

  it("records its schema migrations, applies them once, and refuses a newer schema", async () => {
    const provider = fresh();
    const second = new PostgresStoreProvider(provider.describe());
    await Promise.all([provider.list(), second.list()]);
    const applied = await admin((c) => c.query(`SELECT version, name FROM ${provider.target.schema}.migrations`));
    expect(applied.rows).toEqual([{ version: 1, name: "collections and revisions" }]);
    await admin((c) =>
      c.query(`INSERT INTO ${provider.target.schema}.migrations (version, name) VALUES (99, 'future')`),
    );
    await expect(new PostgresStoreProvider(provider.describe()).list()).rejects.toMatchObject({
      code: "store.schema_newer",
      kind: "usage",
    });
    await provider.close();
    await second.close();
  });

  it("the CLI's --store postgres://… ingests into the server, not the data folder", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-pg-cli-"));
    await writeFile(path.join(dir, "tides.md"), "# Tides\n\nThe tide rises twice a day because of the moon.\n");
    const url = fresh().describe();
    const env = { INFUSE_HOME: path.join(dir, "home") };
    const ingest = await runCli(
      ["ingest", dir, "--collection", "notes", "--embedder", "hash", "--store", url, "--json"],
      { env },
    );
    expect(ingest.stderr).toBe("");
    expect(ingest.code).toBe(0);
    const server = new PostgresStoreProvider(url);
    expect(await server.list()).toEqual([expect.objectContaining({ name: "notes", chunks: 1, units: 1 })]);
    await server.close();
    expect(existsSync(path.join(dir, "home", "collections"))).toBe(false);
  });

  it("a server that cannot be reached or refuses the login is a network error naming store.url, password masked", async () => {
    const down = storeProvider({
      dataDir: "/nowhere",
      store: { provider: "postgres", url: "postgres://ann:s3cret-pw@127.0.0.1:9/db" },
    });
    const err = await down.list().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "store.unreachable", kind: "network" });
    const text = JSON.stringify(err) + String((err as Error).message);
    expect(text).toContain("store.url postgres://ann:***@127.0.0.1:9/db");
    expect(text).not.toContain("s3cret-pw");
    expect(down.describe()).not.toContain("s3cret-pw");
    await down.close();

    const u = new URL(base!);
    u.username = "no_such_user";
    u.password = "hunter2-pw";
    const refused = new PostgresStoreProvider(u.toString());
    const e2 = await refused.list().catch((e: unknown) => e);
    expect(e2).toMatchObject({ kind: "network" });
    expect((e2 as Error).message).toContain("store.url");
    expect(JSON.stringify(e2) + (e2 as Error).message).not.toContain("hunter2-pw");
    await refused.close();

    expect(() => new PostgresStoreProvider("postgres://ann:pw@/db?schema=Bad-Name")).toThrow(/store\.url/);
    try {
      new PostgresStoreProvider("mysql://ann:pw-xyz@host/db");
    } catch (e) {
      expect(e).toMatchObject({ code: "config.store_url", kind: "usage" });
      expect((e as Error).message).not.toContain("pw-xyz");
    }
  });
});
