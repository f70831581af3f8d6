// Where the remote providers are (base URLs from options and environment), how specs parse,
// and which embedding families get which prefixes.
import { describe, expect, it } from "vitest";
import { presetFor } from "../../src/rag/embed/presets.js";
import { ollamaHost, openaiEndpoint, parseEndpointSpec } from "../../src/rag/llm/endpoints.js";
import { retryDelayMs } from "../../src/rag/llm/http.js";
import { createChatModel } from "../../src/rag/llm/index.js";
import { fixture } from "../helpers/fixtures.js";
import { offlineConfig } from "../helpers/rag-config.js";

describe("endpoints and specs", () => {
  it("OpenAI: explicit base URL > OPENAI_BASE_URL > api.openai.com; key from OPENAI_API_KEY", () => {
    expect(openaiEndpoint(undefined, {})).toEqual({ baseUrl: "https://api.openai.com/v1", apiKey: undefined });
    expect(openaiEndpoint(undefined, { OPENAI_BASE_URL: "http://h:8000/v1/", OPENAI_API_KEY: "k" })).toEqual({
      baseUrl: "http://h:8000/v1",
      apiKey: "k",
    });
    expect(openaiEndpoint("http://x/v1", { OPENAI_BASE_URL: "http://h/v1" }).baseUrl).toBe("http://x/v1");
  });

  it("Ollama: OLLAMA_HOST may be a host, host:port or URL, as Ollama accepts", () => {
    expect(ollamaHost(undefined, {})).toBe("http://127.0.0.1:11434");
    expect(ollamaHost(undefined, { OLLAMA_HOST: "gpu-box" })).toBe("http://gpu-box:11434");
    expect(ollamaHost(undefined, { OLLAMA_HOST: "0.0.0.0:9999" })).toBe("http://127.0.0.1:9999");
    expect(ollamaHost(undefined, { OLLAMA_HOST: "https://ollama.example.com" })).toBe("https://ollama.example.com");
    expect(ollamaHost("http://10.0.0.2:11434/", { OLLAMA_HOST: "ignored" })).toBe("http://10.0.0.2:11434");
  });

  it("parses provider specs and treats anything else as a local model reference", () => {
    expect(parseEndpointSpec("openai:gpt-4o-mini")).toEqual({ provider: "openai", model: "gpt-4o-mini" });
    expect(parseEndpointSpec("ollama:llama3.2:3b")).toEqual({ provider: "ollama", model: "llama3.2:3b" });
    expect(parseEndpointSpec("hf:owner/repo/model.gguf")).toEqual({
      provider: "local",
      model: "hf:owner/repo/model.gguf",
    });
    expect(parseEndpointSpec("./models/x.gguf")).toEqual({ provider: "local", model: "./models/x.gguf" });
    expect(() => parseEndpointSpec("openai:")).toThrow(
      expect.objectContaining({ code: "rag.bad_spec", kind: "usage" }),
    );
  });

  it("knows the prefixes and pooling of common embedding families", () => {
    expect(presetFor("hf:BAAI/bge-small-en-v1.5")).toMatchObject({
      queryPrefix: "Represent this sentence for searching relevant passages: ",
      passagePrefix: "",
      pooling: "cls",
    });
    expect(presetFor("hf:intfloat/multilingual-e5-small")).toMatchObject({
      queryPrefix: "query: ",
      passagePrefix: "passage: ",
    });
    expect(presetFor("ollama:nomic-embed-text")).toMatchObject({ queryPrefix: "search_query: " });
    expect(presetFor("hf:BAAI/bge-m3")).toMatchObject({ queryPrefix: "", pooling: "cls" });
    expect(presetFor("hf:sentence-transformers/all-MiniLM-L6-v2")).toBeUndefined();
  });

  it("local chat needs a GGUF: a folder without one is a usage error with the fix", async () => {
    const folder = fixture("models/all-MiniLM-L6-v2-tokenizer");
    await expect(createChatModel(folder, { config: offlineConfig() })).rejects.toMatchObject({
      code: "llm.not_gguf",
      kind: "usage",
      hint: expect.stringContaining("openai:MODEL"),
    });
  });
});

describe("retry pauses", () => {
  it("follow Retry-After in seconds or as a date, capped at a minute; else double from 0.5 s", () => {
    expect(retryDelayMs("2", 0)).toBe(2000);
    expect(retryDelayMs("3600", 0)).toBe(60_000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryDelayMs("Thu, 01 Jan 2026 00:00:05 GMT", 0, now)).toBe(5000);
    expect([0, 1, 2, 10].map((a) => retryDelayMs(null, a))).toEqual([500, 1000, 2000, 8000]);
  });
});
