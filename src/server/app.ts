// The server's Hono app: Bearer auth on every route (when a key is set), CORS only for the named
// origins, body limits (limits.maxRequestBytes; uploads limits.maxUploadBytes), OpenAI's error shape
// for every failure, then the routes: /v1 (OpenAI), /api (collections, jobs), /openapi.json, the UI.
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { registerCollections } from "./api-collections.js";
import { registerJobs } from "./api-jobs.js";
import { registerModels } from "./api-models.js";
import type { ServerContext } from "./context.js";
import { errorResponse, httpError } from "./errors.js";
import { registerOpenAiChat } from "./openai-chat.js";
import { registerOpenAiEmbeddings } from "./openai-embeddings.js";
import { openApiDocument } from "./openapi.js";
import { serveWebUi } from "./web-ui.js";

/** Equal keys, compared in constant time (both hashed first, so lengths never leak). */
export function sameKey(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

const UPLOAD_ROUTES = /^\/api\/(collections\/[^/]+\/documents|tune|eval\/retrieval)$/;

function fail(c: Context, ctx: ServerContext, e: unknown): Response {
  const { status, body } = errorResponse(e, ctx.log);
  return c.json(body, status as 400);
}

export function createApp(ctx: ServerContext, options: { webUiDir?: string } = {}): Hono {
  const app = new Hono();
  app.onError((e, c) => fail(c, ctx, e));
  app.notFound((c) => fail(c, ctx, httpError(404, "route_not_found", `no route ${c.req.method} ${c.req.path}`)));

  if (ctx.cors.length > 0)
    app.use("*", cors({ origin: [...ctx.cors], allowHeaders: ["authorization", "content-type"], maxAge: 600 }));

  if (ctx.apiKey !== undefined) {
    const key = ctx.apiKey;
    app.use("*", async (c, next) => {
      if (c.req.method === "OPTIONS") return next(); // CORS preflights carry no credentials
      // the web UI's static shell holds no data (every call it makes asks for the key), and a browser
      // cannot send a Bearer token when it loads a page: it loads, then asks for the key
      if (c.req.method === "GET" && (c.req.path === "/" || c.req.path.startsWith("/assets/"))) return next();
      const header = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (!m || !sameKey(m[1]!.trim(), key)) {
        c.header("www-authenticate", 'Bearer realm="infuse"');
        return fail(
          c,
          ctx,
          httpError(401, "invalid_api_key", m ? "the API key is not valid" : "an API key is required", {
            hint: "send the server's key as `Authorization: Bearer KEY`",
          }),
        );
      }
      return next();
    });
  }

  const tooLarge = (what: string, key: string, max: number) => (c: Context) =>
    fail(
      c,
      ctx,
      httpError(413, "request_too_large", `the ${what} is over limits.${key} (${max} bytes)`, {
        hint: `send less, or raise limits.${key} in infuse.config.json`,
      }),
    );
  const jsonLimit = bodyLimit({
    maxSize: ctx.limits.maxRequestBytes,
    onError: tooLarge("request body", "maxRequestBytes", ctx.limits.maxRequestBytes),
  });
  const uploadLimit = bodyLimit({
    maxSize: ctx.limits.maxUploadBytes,
    onError: tooLarge("upload", "maxUploadBytes", ctx.limits.maxUploadBytes),
  });
  app.use("*", (c, next) => (UPLOAD_ROUTES.test(c.req.path) ? uploadLimit(c, next) : jsonLimit(c, next)));

  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: ctx.models.served.map((m) => ({ id: m.id, object: "model", created: 0, owned_by: "infuse" })),
    }),
  );
  app.get("/v1/models/:id{.+}", (c) => {
    const m = ctx.models.find(c.req.param("id"), ["chat", "rag", "embedding"]);
    return c.json({ id: m.id, object: "model", created: 0, owned_by: "infuse" });
  });
  registerOpenAiChat(app, ctx);
  registerOpenAiEmbeddings(app, ctx);
  registerCollections(app, ctx);
  registerJobs(app, ctx);
  registerModels(app, ctx);
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  serveWebUi(app, ...(options.webUiDir !== undefined ? [options.webUiDir] : []));
  return app;
}
