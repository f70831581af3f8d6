// The OpenAI-compatible and Ollama embedders against a real HTTP server on 127.0.0.1 that runs
// the tiny ONNX encoder: same vectors as the model itself, batching, prefixes, errors that name URLs.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { createEmbedder } from "../../src/rag/embed/index.js";
import type { Embedder } from "../../src/rag/types.js";
import { startModelServer, type ModelServer } from "../helpers/model-server.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { writeTinyEncoder } from "../helpers/tiny-encoder.js";

const config = offlineConfig();
const texts = ["the cat sat on the mat", "dogs bark at night", "a third text", "four", "five texts in all"];

async function failure(run: () => Promise<unknown>): Promise<InfuseError> {
  const e = await run().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InfuseError);
  return e as InfuseError;
}

function expectSameVectors(a: Float32Array[], b: Float32Array[]): void {
  expect(a).toHaveLength(b.length);
  a.forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(b[i]![j]!, 5)));
}

describe("HTTP embedders against a model server running the tiny ONNX encoder", () => {
  let tmp: string;
  let raw: Embedder;
  let local: Embedder;
  let server: ModelServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-embed-http-"));
    const folder = await writeTinyEncoder(path.join(tmp, "tiny"));
    raw = await createEmbedder(folder, { config, normalize: false });
    local = await createEmbedder(folder, { config });
    server = await startModelServer({ embed: (t) => raw.embedPassages(t), models: ["tiny"], apiKey: "sk-test" });
    env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: "sk-test", OLLAMA_HOST: server.url };
  });
  afterAll(async () => {
    await server.close();
    await raw.dispose?.();
    await local.dispose?.();
    await rm(tmp, { recursive: true, force: true });
  });

  for (const provider of ["openai", "ollama"] as const) {
    it(`${provider}: gives the model's vectors, normalised, in batches`, async () => {
      const remote = await createEmbedder(`${provider}:tiny`, { config, env, batchSize: 2 });
      const first = server.requests.length;
      const got = await remote.embedPassages(texts);
      expectSameVectors(got, await local.embedPassages(texts));
      const calls = server.requests.slice(first);
      expect(calls.map((r) => r.body["input"])).toEqual([texts.slice(0, 2), texts.slice(2, 4), texts.slice(4)]);
      expect(calls[0]!.path).toBe(provider === "openai" ? "/v1/embeddings" : "/api/embed");
      expect(await remote.dimension()).toBe(32);
      expect(remote.tokenizer).toBeUndefined();
      expect(remote.id).toBe(provider === "openai" ? `openai:tiny@${server.url}/v1` : `ollama:tiny@${server.url}`);
    });
  }

  it("sends the query and passage prefixes to the server", async () => {
    const remote = await createEmbedder("ollama:tiny", {
      config,
      env,
      queryPrefix: "query: ",
      passagePrefix: "passage: ",
    });
    const [q] = await remote.embedQueries(["cats"]);
    expect(server.requests.at(-1)!.body["input"]).toEqual(["query: cats"]);
    await remote.embedPassages(["cats"]);
    expect(server.requests.at(-1)!.body["input"]).toEqual(["passage: cats"]);
    expectSameVectors([q!], await local.embedPassages(["query: cats"]));
    expect(remote.id).toContain('query="query: "');
  });

  it("learns the dimension with one request when the server does not say it", async () => {
    const remote = await createEmbedder("openai:tiny", { config, env });
    const first = server.requests.length;
    expect(await remote.dimension()).toBe(32);
    expect(server.requests.length).toBe(first + 1);
  });

  it("HTTP 500, a wrong key and an unknown model are network errors with the fix", async () => {
    const openai = await createEmbedder("openai:tiny", { config, env });
    server.failNext(500, { error: { message: "encoder exploded" } });
    const e500 = await failure(() => openai.embedPassages(["x"]));
    expect(e500).toMatchObject({ code: "embed.http_error", kind: "network" });
    expect(e500.message).toContain(`${server.url}/v1/embeddings`);
    expect(e500.message).toContain("encoder exploded");

    const wrong = await createEmbedder("openai:tiny", { config, env: { ...env, OPENAI_API_KEY: "nope" } });
    const e401 = await failure(() => wrong.embedQueries(["x"]));
    expect(e401).toMatchObject({ code: "embed.unauthorized", kind: "network" });
    expect(e401.hint).toContain("OPENAI_API_KEY");

    const missing = await createEmbedder("ollama:nomic-embed-text", { config, env });
    const e404 = await failure(() => missing.embedPassages(["x"]));
    expect(e404.message).toContain(`${server.url}/api/embed`);
    expect(e404.hint).toContain("ollama pull nomic-embed-text");
    expect(missing.id).toContain('passage="search_document: "');
  });

  it("retries rate limits and overloaded servers, then reports the last failure", async () => {
    const openai = await createEmbedder("openai:tiny", { config, env });
    const first = server.requests.length;
    server.failNext(429, { error: { message: "Rate limit reached" } }, { "retry-after": "0" });
    server.failNext(503, { error: { message: "loading model" } }, { "retry-after": "0" });
    const [v] = await openai.embedPassages(["cats"]);
    expectSameVectors([v!], await local.embedPassages(["cats"]));
    expect(server.requests.length - first).toBe(3);

    for (let i = 0; i < 4; i++)
      server.failNext(429, { error: { message: "Rate limit reached" } }, { "retry-after": "0" });
    const e = await failure(() => openai.embedPassages(["cats"]));
    expect(e).toMatchObject({ code: "embed.http_error", kind: "network" });
    expect(e.message).toContain("HTTP 429: Rate limit reached");
    expect(e.hint).toContain("rate-limiting");

    server.failNext(429, { error: { message: "Rate limit reached" } }, { "retry-after": "30" });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(openai.embedPassages(["cats"], { signal: controller.signal })).rejects.toMatchObject({
      kind: "cancelled",
    });
  });

  it("an unreachable server is a network error naming the URL; an aborted signal cancels", async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const gone = await createEmbedder(
      { provider: "ollama", model: "tiny", baseUrl: `http://127.0.0.1:${port}` },
      { config },
    );
    const e = await failure(() => gone.embedPassages(["x"]));
    expect(e).toMatchObject({ code: "embed.unreachable", kind: "network" });
    expect(e.message).toContain(`http://127.0.0.1:${port}/api/embed`);
    expect(e.hint).toContain("OLLAMA_HOST");

    const openai = await createEmbedder("openai:tiny", { config, env });
    await expect(openai.embedPassages(["x"], { signal: AbortSignal.abort() })).rejects.toMatchObject({
      kind: "cancelled",
    });
  });
});
