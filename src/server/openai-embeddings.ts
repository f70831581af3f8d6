// POST /v1/embeddings: a string, strings, token ids or arrays of token ids (decoded with the served
// embedder's own tokenizer when it has one) embedded as passages; `encoding_format: base64` is the
// little-endian float32 bytes, as OpenAI sends them (the openai SDK asks for base64 by default).
import type { Hono } from "hono";
import { loadTokenizer } from "../tokenizers/load.js";
import { jsonBody } from "./body.js";
import type { ServerContext } from "./context.js";
import { httpError } from "./errors.js";
import { EmbeddingRequestSchema, type EmbeddingRequest } from "./openai-schemas.js";

/** A vector as OpenAI's base64: the float32 values' little-endian bytes. */
export function base64Floats(v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i]!, i * 4);
  return bytes.toString("base64");
}

async function inputTexts(id: string, input: EmbeddingRequest["input"]): Promise<string[]> {
  if (typeof input === "string") return [input];
  if (input.every((x) => typeof x === "string")) return input as string[];
  const lists = (typeof input[0] === "number" ? [input] : input) as number[][];
  const tokenizer = await loadTokenizer(id).catch((e: unknown) => {
    throw httpError(400, "token_input_unsupported", `the model "${id}" has no tokenizer to read token ids with`, {
      param: "input",
      hint: `send text instead of token ids (${(e as Error).message})`,
    });
  });
  return lists.map((ids) => tokenizer.decode(ids));
}

export function registerOpenAiEmbeddings(app: Hono, ctx: ServerContext): void {
  app.post("/v1/embeddings", async (c) => {
    const body = await jsonBody(c, EmbeddingRequestSchema);
    const model = ctx.models.find(body.model, ["embedding"]);
    const texts = await inputTexts(model.id, body.input);
    if (texts.some((t) => t.length === 0))
      throw httpError(400, "invalid_request", "input: empty strings cannot be embedded", { param: "input" });
    const embedder = await ctx.models.embedder(model.id);
    const vectors = await embedder.embedPassages(texts, { signal: c.req.raw.signal });
    if (body.dimensions !== undefined && body.dimensions !== vectors[0]?.length)
      throw httpError(400, "invalid_request", `dimensions: ${model.id} gives ${vectors[0]?.length} dimensions`, {
        param: "dimensions",
      });
    const counter = await embedder.tokenizer?.().catch(() => undefined);
    const tokens = counter ? texts.reduce((n, t) => n + counter.countTokens(t), 0) : 0;
    const base64 = body.encoding_format === "base64";
    return c.json({
      object: "list",
      data: vectors.map((v, index) => ({
        object: "embedding",
        index,
        embedding: base64 ? base64Floats(v) : Array.from(v),
      })),
      model: model.id,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  });
}
