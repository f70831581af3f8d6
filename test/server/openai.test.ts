// The OpenAI-compatible routes driven by the official openai SDK against a real server on 127.0.0.1:
// stories260K in infuse's engine for chat and completions, a tiny ONNX encoder for embeddings.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveEmbedder } from "../../src/rag/pipeline/models.js";
import { generate } from "../../src/models/generate.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { CHAT_MODEL, STORIES, testServer, type TestServer } from "./helpers.js";

let server: TestServer;
let client: OpenAI;
const STORY = [{ role: "user" as const, content: "Once upon a time" }];

beforeAll(async () => {
  server = await testServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
}, 60_000);
afterAll(async () => server?.close());

describe("models", () => {
  it("lists every served model by id", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual([CHAT_MODEL, server.encoder, "hash"]);
  });
});

describe("chat completions", () => {
  it("answers without streaming; greedy answers repeat; usage counts the prompt's and the answer's tokens", async () => {
    const ask = () =>
      client.chat.completions.create({
        model: CHAT_MODEL,
        messages: [
          { role: "system", content: "You tell stories." },
          { role: "user", content: [{ type: "text", text: "Once upon a time" }] },
        ],
        max_tokens: 12,
        temperature: 0,
        seed: 1,
      });
    const r = await ask();
    expect(r.object).toBe("chat.completion");
    expect(r.model).toBe(CHAT_MODEL);
    const choice = r.choices[0]!;
    expect(choice.message.role).toBe("assistant");
    expect(choice.message.content!.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(choice.finish_reason);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(12);
    // the system and user turns through the chat template: more than the user's 4 words
    expect(r.usage!.prompt_tokens).toBeGreaterThan(4);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
    expect((await ask()).choices[0]!.message.content).toBe(choice.message.content);
  });

  it("streams chunks ending in [DONE], with usage last when asked", async () => {
    const stream = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: STORY,
      max_tokens: 10,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      for (const c of chunk.choices) {
        text += c.delta.content ?? "";
        finishes.push(c.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    const whole = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: STORY,
      max_tokens: 10,
      temperature: 0,
    });
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finishes.filter((f) => f !== null)).toHaveLength(1);
    expect(usage!.completion_tokens).toBe(whole.usage!.completion_tokens);
    expect(usage!.prompt_tokens).toBe(whole.usage!.prompt_tokens);
    expect(usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it("a client that leaves mid-stream stops only its own answer", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: CHAT_MODEL, messages: STORY, max_tokens: 200, stream: true },
      { signal: controller.signal },
    );
    const left = (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) controller.abort();
    })();
    await left; // the SDK ends an aborted stream quietly
    const next = await client.chat.completions.create({ model: CHAT_MODEL, messages: STORY, max_tokens: 4 });
    expect(next.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it("json_object always returns a JSON object", async () => {
    const r = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [{ role: "user", content: "Give me a JSON object" }],
      max_tokens: 8,
      response_format: { type: "json_object" },
    });
    const parsed: unknown = JSON.parse(r.choices[0]!.message.content!);
    expect(typeof parsed).toBe("object");
  });

  it("a stop sequence ends the answer before it", async () => {
    const free = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: STORY,
      max_tokens: 16,
      temperature: 0,
    });
    const words = free.choices[0]!.message.content!.trim().split(/\s+/);
    const stop = words[Math.min(2, words.length - 1)]!;
    const stopped = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: STORY,
      max_tokens: 16,
      temperature: 0,
      stop: [stop],
    });
    expect(stopped.choices[0]!.message.content).not.toContain(stop);
  });
});

describe("completions", () => {
  it("continues the prompt as raw text (no chat template), streaming and not, and echoes it when asked", async () => {
    // the oracle: infuse's engine continuing the same text in this thread
    const loaded = await loadLlama(STORIES);
    const own = await generate(loaded.model, loaded.tokenizer, "The cat", { temperature: 0, maxTokens: 8 });
    const r = await client.completions.create({
      model: CHAT_MODEL,
      prompt: "The cat",
      max_tokens: 8,
      temperature: 0,
      echo: true,
    });
    expect(r.object).toBe("text_completion");
    expect(r.choices[0]!.text).toBe("The cat" + own.text);
    expect(r.usage!.prompt_tokens).toBe(own.promptTokens);
    const stream = await client.completions.create({
      model: CHAT_MODEL,
      prompt: "The cat",
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect("The cat" + text).toBe(r.choices[0]!.text);
  });
});

describe("embeddings", () => {
  it("float and base64 (the SDK's default) carry the vectors the embedder gives", async () => {
    const input = ["the cat sat on the mat", "a dog barked"];
    const floats = await client.embeddings.create({ model: server.encoder, input, encoding_format: "float" });
    const decoded = await client.embeddings.create({ model: server.encoder, input }); // base64 on the wire
    const embedder = await resolveEmbedder(server.encoder, { config: server.config });
    const direct = await embedder.embedPassages(input);
    await embedder.dispose?.();
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    for (let i = 0; i < 2; i++) {
      expect(floats.data[i]!.embedding).toEqual(Array.from(direct[i]!));
      expect(decoded.data[i]!.embedding).toEqual(Array.from(direct[i]!));
    }
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it("reads token ids with the model's own tokenizer", async () => {
    const text = await client.embeddings.create({
      model: server.encoder,
      input: "hello world",
      encoding_format: "float",
    });
    // the MiniLM (bert-base-uncased) vocabulary: hello = 7592, world = 2088
    const ids = await client.embeddings.create({
      model: server.encoder,
      input: [7592, 2088],
      encoding_format: "float",
    });
    expect(ids.data[0]!.embedding).toEqual(text.data[0]!.embedding);
  });

  it("serves the hashing embedder too", async () => {
    const r = await client.embeddings.create({ model: "hash", input: "hello", encoding_format: "float" });
    expect(r.data[0]!.embedding.length).toBeGreaterThan(0);
  });
});

describe("errors", () => {
  it("an unknown model is a 404 naming the field, in OpenAI's shape", async () => {
    const e = await client.chat.completions.create({ model: "nope", messages: STORY }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
    const err = e as InstanceType<typeof OpenAI.NotFoundError>;
    expect(err.param).toBe("model");
    expect(err.code).toBe("model_not_found");
    const embedder = await client.chat.completions.create({ model: "hash", messages: STORY }).catch((x: unknown) => x);
    expect((embedder as { status: number }).status).toBe(404);
  });

  it("a bad field is a 400 naming it; no stack reaches the client", async () => {
    const post = (route: string, body: string) =>
      fetch(`${server.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const res = await post(
      "/v1/chat/completions",
      JSON.stringify({ model: CHAT_MODEL, messages: STORY, temperature: 9 }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; type: string } };
    expect(body.error.param).toBe("temperature");
    expect(body.error.type).toBe("invalid_request_error");
    expect(JSON.stringify(body)).not.toMatch(/\.ts:\d+/);
    const parts = await post(
      "/v1/chat/completions",
      JSON.stringify({
        model: CHAT_MODEL,
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }],
      }),
    );
    expect(((await parts.json()) as { error: { param: string } }).error.param).toBe("messages[0].content[0].type");
    const bad = await post("/v1/embeddings", "{not json");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
  });
});
