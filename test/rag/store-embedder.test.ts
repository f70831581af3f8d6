// A collection built with an embedder behind a custom OpenAI-compatible server keeps that
// server's base URL, so `collectionEmbedder` reconnects to it with no config naming it.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { collectionEmbedder, resolveEmbedder } from "../../src/rag/pipeline/models.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { startModelServer, type ModelServer } from "../helpers/model-server.js";
import { CORPUS, INIT, change } from "./store-fixtures.js";

describe("a collection's remote embedder", () => {
  let server: ModelServer;
  const hashing = new HashingEmbedder();
  beforeAll(async () => {
    server = await startModelServer({ embed: (texts) => Promise.resolve(texts.map((t) => hashing.embed(t))) });
  });
  afterAll(() => server.close());

  it("reconnects to the server the collection was built with", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-store-remote-"));
    const config = offlineConfig(dir);
    const spec = { provider: "openai" as const, model: "hash-remote", baseUrl: `${server.url}/v1` };
    const built = await resolveEmbedder(spec, { config });
    const provider = new LanceDbStoreProvider(config.dataDir);
    const store = await provider.openOrCreate("remote", {
      ...INIT,
      embedder: { id: built.id, spec, dimension: await built.dimension() },
    });
    await store.commit(change(CORPUS));
    store.close();

    const manifest = await provider.requireManifest("remote");
    expect(config.rag.embedder).toBeUndefined();
    const again = await collectionEmbedder(manifest.embedder, undefined, { config });
    expect(again.id).toBe(built.id);
    const before = server.requests.length;
    const [vector] = await again.embedQueries(["fuel dock"]);
    expect(Array.from(vector!)).toEqual(Array.from(hashing.embed("fuel dock")));
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(["/v1/embeddings"]);

    // without the stored endpoint, the spec string alone would go to the default server
    const { endpoint: _endpoint, ...bare } = manifest.embedder;
    expect((await collectionEmbedder(bare, undefined, { config })).id).not.toBe(built.id);
  });
});
