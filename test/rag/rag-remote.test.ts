// Ingest and ask with an embedder behind a real OpenAI-compatible HTTP server on 127.0.0.1:
// the content-hash cache means a re-ingest sends only new chunk texts over the network, and
// the collection's stored spec (plus the config's base URL) recreates the embedder for ask.
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedConfig } from "../../src/core/config.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { ask } from "../../src/rag/pipeline/ask.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import { collectionEmbedder, resolveEmbedder, specString } from "../../src/rag/pipeline/models.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { startModelServer, type ModelServer } from "../helpers/model-server.js";

describe("ingest with a remote embedder", () => {
  let server: ModelServer;
  const hashing = new HashingEmbedder();
  beforeAll(async () => {
    server = await startModelServer({ embed: (texts) => Promise.resolve(texts.map((t) => hashing.embed(t))) });
  });
  afterAll(() => server.close());
  const embeddedTexts = () =>
    server.requests.filter((r) => r.path === "/v1/embeddings").flatMap((r) => r.body["input"] as string[]);

  it("embeds each new chunk text once over HTTP and asks with the collection's embedder", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "infuse-remote-"));
    const docs = await mkdtemp(path.join(os.tmpdir(), "infuse-remote-docs-"));
    await writeFile(
      path.join(docs, "a.md"),
      "# Berths\n\nThe harbour has six berths.\n\n# Fuel\n\nThe fuel dock opens at dawn.",
    );
    await writeFile(path.join(docs, "b.txt"), "Pilots board ships at the outer buoy.");
    const spec = { provider: "openai" as const, model: "hash-remote", baseUrl: `${server.url}/v1` };
    const config: ResolvedConfig = {
      file: undefined,
      cacheDir: dataDir,
      dataDir,
      hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
      rag: { embedder: spec },
    };
    const embedder = await resolveEmbedder(spec, { config });
    await embedder.dimension(); // may probe the server once
    const probes = embeddedTexts().length;

    const first = await ingestPath("remote", docs, { dataDir, embedder, embedderSpec: specString(spec) });
    expect(first).toMatchObject({ chunksTotal: 3, embedded: 3, cached: 0 });
    expect(embeddedTexts()).toHaveLength(probes + 3);

    await writeFile(
      path.join(docs, "a.md"),
      "# Berths\n\nThe harbour has six berths.\n\n# Fuel\n\nThe fuel dock opens at 06:00.",
    );
    const second = await ingestPath("remote", docs, { dataDir, embedder, embedderSpec: specString(spec) });
    expect(second).toMatchObject({ updated: ["a.md"], unchanged: 1, embedded: 1, cached: 1 });
    expect(embeddedTexts().slice(probes + 3)).toEqual(["# Fuel\n\nThe fuel dock opens at 06:00."]);

    const manifest = await new LanceDbStoreProvider(dataDir).manifest("remote");
    expect(manifest!.embedder).toMatchObject({ id: embedder.id, spec: "openai:hash-remote", dimension: 512 });
    const again = await collectionEmbedder(manifest!.embedder, undefined, { config });
    expect(again.id).toBe(embedder.id);
    const r = await ask("When does the fuel dock open?", {
      dataDir,
      collection: "remote",
      embedder: again,
      recipe: { retriever: { mode: "dense" }, top_k: 1 },
      log: false,
    });
    expect(r.sources[0]).toMatchObject({ source: "a.md", heading: "Fuel", retriever: "dense" });
    expect(embeddedTexts().at(-1)).toBe("When does the fuel dock open?");
  });
});
