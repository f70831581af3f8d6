// The OpenAI-compatible and Ollama chat clients against a real HTTP server on 127.0.0.1 that
// runs stories260K: streamed text equals the model's own, options reach the server, errors name URLs.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { createChatModel } from "../../src/rag/llm/index.js";
import type { ChatMessage, ChatModel, ChatOptions, ChatUsage } from "../../src/rag/types.js";
import { fixture } from "../helpers/fixtures.js";
import { startModelServer, type ModelServer } from "../helpers/model-server.js";
import { offlineConfig } from "../helpers/rag-config.js";

const config = offlineConfig();
const ask: ChatMessage[] = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Once upon a time" },
];

async function collect(model: ChatModel, options: ChatOptions = {}, messages = ask): Promise<string[]> {
  const pieces: string[] = [];
  for await (const p of model.chat(messages, options)) pieces.push(p);
  return pieces;
}

async function failure(run: () => Promise<unknown>): Promise<InfuseError> {
  const e = await run().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InfuseError);
  return e as InfuseError;
}

/** A port nothing listens on: bind one, then close it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("HTTP chat clients against a stories260K model server", () => {
  let local: ChatModel;
  let server: ModelServer;
  let openai: ChatModel;
  let ollama: ChatModel;
  beforeAll(async () => {
    local = await createChatModel(fixture("models/stories260K-gguf/stories260K.gguf"), { config });
    server = await startModelServer({ chat: local, models: ["stories"], apiKey: "sk-test" });
    const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: "sk-test", OLLAMA_HOST: server.url };
    openai = await createChatModel("openai:stories", { config, env });
    ollama = await createChatModel({ provider: "ollama", model: "stories" }, { config, env });
  });
  afterAll(async () => {
    await server.close();
    await local.dispose?.();
  });

  it("OpenAI: streams the model's greedy answer piece by piece and sends the options", async () => {
    const direct = (await collect(local, { maxTokens: 16, temperature: 0 })).join("");
    const pieces = await collect(openai, { maxTokens: 16, temperature: 0, topP: 0.9, seed: 3, stop: ["zzz"] });
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join("")).toBe(direct);
    const sent = server.requests.at(-1)!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.headers.authorization).toBe("Bearer sk-test");
    expect(sent.body).toMatchObject({
      model: "stories",
      stream: true,
      max_tokens: 16,
      temperature: 0,
      top_p: 0.9,
      seed: 3,
      stop: ["zzz"],
    });
    expect(sent.body["messages"]).toEqual(ask);
    expect(sent.body["stream_options"]).toBeUndefined(); // no caller asked for the usage
    expect(openai.id).toBe(`openai:stories@${server.url}/v1`);
  });

  it("both clients hand the server's token counts to onUsage; OpenAI asks for them only then", async () => {
    let direct: ChatUsage | undefined;
    const answer = (await collect(local, { maxTokens: 8, temperature: 0, onUsage: (u) => (direct = u) })).join("");
    // the system turn, the user turn and the template's markers: more tokens than the user's 4 words
    expect(direct!.promptTokens).toBeGreaterThan(4);
    for (const client of [openai, ollama]) {
      let got: ChatUsage | undefined;
      const text = (await collect(client, { maxTokens: 8, temperature: 0, onUsage: (u) => (got = u) })).join("");
      expect(text).toBe(answer);
      expect(got!.promptTokens).toBe(direct!.promptTokens);
      expect(got!.completionTokens).toBeGreaterThan(0);
    }
    const sent = server.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect(sent.body["stream_options"]).toEqual({ include_usage: true });
  });

  it("Ollama: streams NDJSON with the sampling settings in options", async () => {
    const direct = (await collect(local, { maxTokens: 12, temperature: 0 })).join("");
    const pieces = await collect(ollama, { maxTokens: 12, temperature: 0, stop: ["zzz"] });
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join("")).toBe(direct);
    const sent = server.requests.at(-1)!;
    expect(sent.path).toBe("/api/chat");
    expect(sent.body).toMatchObject({
      model: "stories",
      stream: true,
      options: { num_predict: 12, temperature: 0, stop: ["zzz"] },
    });
  });

  it("both clients continue a raw prompt through the server's completion routes", async () => {
    const prompt = "Once upon a time there was";
    const raw = async (model: ChatModel, onUsage?: ChatOptions["onUsage"]) => {
      let text = "";
      for await (const p of model.complete!(prompt, { maxTokens: 10, temperature: 0, ...(onUsage ? { onUsage } : {}) }))
        text += p;
      return text;
    };
    let direct: ChatUsage | undefined;
    const answer = await raw(local, (u) => (direct = u));
    expect(answer.length).toBeGreaterThan(0);
    // a raw continuation, not a chat answer: the chat template's prompt is longer
    let chat: ChatUsage | undefined;
    await collect(local, { maxTokens: 2, temperature: 0, onUsage: (u) => (chat = u) }, [
      { role: "user", content: prompt },
    ]);
    expect(chat!.promptTokens).toBeGreaterThan(direct!.promptTokens);
    for (const [client, route] of [
      [openai, "/v1/completions"],
      [ollama, "/api/generate"],
    ] as const) {
      let got: ChatUsage | undefined;
      expect(await raw(client, (u) => (got = u))).toBe(answer);
      expect(got!.promptTokens).toBe(direct!.promptTokens);
      const sent = server.requests.at(-1)!;
      expect(sent.path).toBe(route);
      expect(sent.body).toMatchObject({ model: "stories", prompt, stream: true });
    }
    expect(server.requests.at(-1)!.body).toMatchObject({ raw: true, options: { num_predict: 10 } });
  });

  it("an HTTP 500 is a network error naming the URL and the server's message", async () => {
    server.failNext(500, { error: { message: "model crashed" } });
    const e = await failure(() => collect(openai, { maxTokens: 4 }));
    expect(e).toMatchObject({ code: "llm.http_error", kind: "network" });
    expect(e.message).toContain(`${server.url}/v1/chat/completions`);
    expect(e.message).toContain("HTTP 500: model crashed");
    server.failNext(500, { error: "out of memory" });
    const o = await failure(() => collect(ollama, { maxTokens: 4 }));
    expect(o.message).toContain(`${server.url}/api/chat`);
    expect(o.message).toContain("out of memory");
  });

  it("a stream that breaks off is a network error, not a short answer", async () => {
    for (const model of [openai, ollama]) {
      server.dropNextStreamAfter(2);
      const pieces: string[] = [];
      const e = await failure(async () => {
        for await (const p of model.chat(ask, { maxTokens: 40, temperature: 0 })) pieces.push(p);
      });
      expect(e).toMatchObject({ code: "llm.stream_interrupted", kind: "network" });
      expect(e.message).toContain(server.url);
      expect(pieces).toHaveLength(2);
    }
  });

  it("a 401 says to check OPENAI_API_KEY", async () => {
    const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: "sk-wrong" };
    const wrongKey = await createChatModel("openai:stories", { config, env });
    const e = await failure(() => collect(wrongKey, { maxTokens: 4 }));
    expect(e).toMatchObject({ code: "llm.unauthorized", kind: "network" });
    expect(e.message).toContain("HTTP 401");
    expect(e.hint).toContain("OPENAI_API_KEY");
  });

  it("an unknown Ollama model says to pull it", async () => {
    const missing = await createChatModel("ollama:llama9", { config, env: { OLLAMA_HOST: server.url } });
    const e = await failure(() => collect(missing));
    expect(e).toMatchObject({ code: "llm.http_error", kind: "network" });
    expect(e.hint).toContain("ollama pull llama9");
  });

  it("an unreachable host is a network error naming the URL", async () => {
    const port = await deadPort();
    const gone = await createChatModel(
      { provider: "openai", model: "x", baseUrl: `http://127.0.0.1:${port}/v1` },
      { config },
    );
    const e = await failure(() => collect(gone));
    expect(e).toMatchObject({ code: "llm.unreachable", kind: "network" });
    expect(e.message).toContain(`http://127.0.0.1:${port}/v1/chat/completions`);
    expect(e.hint).toContain("OPENAI_BASE_URL");
    const goneOllama = await createChatModel("ollama:x", { config, env: { OLLAMA_HOST: `127.0.0.1:${port}` } });
    const o = await failure(() => collect(goneOllama));
    expect(o.message).toContain(`http://127.0.0.1:${port}/api/chat`);
  });

  for (const which of ["OpenAI", "Ollama"] as const) {
    it(`${which}: aborting mid-stream stops it with a cancelled error and the server sees the client go`, async () => {
      const model = which === "OpenAI" ? openai : ollama;
      const before = server.closedEarly;
      const controller = new AbortController();
      const pieces: string[] = [];
      const e = await failure(async () => {
        for await (const p of model.chat(ask, { maxTokens: 400, temperature: 0, signal: controller.signal })) {
          pieces.push(p);
          if (pieces.length === 2) controller.abort();
        }
      });
      expect(e.kind).toBe("cancelled");
      expect(pieces).toHaveLength(2);
      await expect.poll(() => server.closedEarly).toBeGreaterThan(before);
      // the model is free again for the next request
      expect((await collect(model, { maxTokens: 3, temperature: 0 })).length).toBeGreaterThan(0);
    });
  }
});
