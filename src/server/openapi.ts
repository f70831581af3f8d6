// GET /openapi.json: the routes this server answers, as OpenAPI 3.1. Request bodies of the OpenAI
// routes follow OpenAI's own API reference; the /api/ bodies are infuse's wire format (snake_case).
import { VERSION } from "../core/version.js";

type Op = { summary: string; body?: string; multipart?: string[]; stream?: boolean; params?: string[] };

const ROUTES: Record<string, Record<string, Op>> = {
  "/v1/models": { get: { summary: "The served models, by id" } },
  "/v1/chat/completions": {
    post: {
      summary: "Chat completion (OpenAI); `stream: true` answers with SSE chunks and `data: [DONE]`",
      body: "messages, model, temperature, top_p, max_tokens, stop, seed, stream, stream_options, response_format, citations (infuse)",
      stream: true,
    },
  },
  "/v1/completions": {
    post: {
      summary: "Text completion (OpenAI)",
      body: "prompt, model, temperature, top_p, max_tokens, stop, seed, stream, echo",
      stream: true,
    },
  },
  "/v1/embeddings": {
    post: {
      summary: "Embeddings (OpenAI)",
      body: "input (string, strings, token ids), model, encoding_format (float|base64)",
    },
  },
  "/api/collections": {
    get: { summary: "Collections, and damaged ones apart" },
    post: { summary: "Create an empty collection", body: "name, embedder? (a served id), splitter?, fts?" },
  },
  "/api/collections/{name}": {
    get: { summary: "A collection's settings and documents", params: ["name"] },
    delete: { summary: "Delete a collection", params: ["name"] },
  },
  "/api/collections/{name}/documents": {
    post: {
      summary: "Upload files (field `files`, several) and ingest them as a job → {job_id}",
      multipart: ["files"],
      params: ["name"],
    },
  },
  "/api/collections/{name}/ask": {
    post: {
      summary: "Ask with a recipe → the body of `infuse ask --json`",
      body: "question, model?, max_tokens?, ...recipe keys",
      params: ["name"],
    },
  },
  "/api/jobs": { get: { summary: "Every job" } },
  "/api/jobs/{id}": {
    get: { summary: "A job: {id, kind, status, progress, metrics, result?, error?}", params: ["id"] },
    delete: { summary: "Cancel a job", params: ["id"] },
  },
  "/api/jobs/{id}/events": {
    get: {
      summary: "A job's events as server-sent events (status, progress, metric, log)",
      params: ["id"],
      stream: true,
    },
  },
  "/api/jobs/{id}/report.html": { get: { summary: "A finished retrieval evaluation's HTML report", params: ["id"] } },
  "/api/jobs/{id}/files/{name}": {
    get: {
      summary: "A file a finished tune job wrote (its adapter), by the name in result.files",
      params: ["id", "name"],
    },
  },
  "/api/tune": {
    post: {
      summary:
        "Start a LoRA tune job from a dataset upload (field `dataset`) and `options` (JSON, the tune schema) → {job_id}",
      multipart: ["dataset", "options"],
    },
  },
  "/api/jobs/{id}/resume": {
    post: {
      summary: "Resume a stopped or finished tune job from its last checkpoint as a new job → {job_id}",
      params: ["id"],
      body: "max_steps?, epochs? (to train a finished run further)",
    },
  },
  "/api/models/recommended": {
    get: {
      summary:
        "The recommended models (embedder, reranker, chat) and whether each is in the cache; online: false when the server is offline",
    },
    post: { summary: "Download some of them as a `pull` job → {job_id}", body: "refs (recommended model refs)" },
  },
  "/api/eval/retrieval": {
    post: {
      summary:
        "Start a retrieval evaluation from BEIR files (`corpus`, `queries`, `qrels`) and `options` (JSON) → {job_id}",
      multipart: ["corpus", "queries", "qrels", "options"],
    },
  },
};

const ERROR = {
  description: "An error in OpenAI's shape",
  content: {
    "application/json": {
      schema: {
        type: "object",
        properties: {
          error: {
            type: "object",
            properties: {
              message: { type: "string" },
              type: { type: "string" },
              param: { type: ["string", "null"] },
              code: { type: "string" },
              hint: { type: "string" },
            },
            required: ["message", "type", "param", "code"],
          },
        },
      },
    },
  },
};

function operation(op: Op): Record<string, unknown> {
  return {
    summary: op.summary,
    ...(op.params
      ? { parameters: op.params.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })) }
      : {}),
    ...(op.body
      ? {
          requestBody: {
            required: true,
            description: op.body,
            content: { "application/json": { schema: { type: "object" } } },
          },
        }
      : {}),
    ...(op.multipart
      ? {
          requestBody: {
            required: true,
            content: {
              "multipart/form-data": {
                schema: {
                  type: "object",
                  properties: Object.fromEntries(
                    op.multipart.map((f) => [
                      f,
                      f === "options" ? { type: "string" } : { type: "string", format: "binary" },
                    ]),
                  ),
                },
              },
            },
          },
        }
      : {}),
    responses: {
      "200": {
        description: "OK",
        content: {
          "application/json": { schema: { type: "object" } },
          ...(op.stream ? { "text/event-stream": { schema: { type: "string" } } } : {}),
        },
      },
      "400": ERROR,
      "401": ERROR,
      "404": ERROR,
    },
  };
}

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: { title: "infuse", version: VERSION, description: "OpenAI-compatible API and infuse's REST API" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths: Object.fromEntries(
      Object.entries(ROUTES).map(([p, ops]) => [
        p,
        Object.fromEntries(Object.entries(ops).map(([m, op]) => [m, operation(op)])),
      ]),
    ),
  };
}
