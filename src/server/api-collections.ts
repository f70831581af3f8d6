// /api/collections: list, show (with its documents), delete, upload documents (→ an ingest job),
// and ask (→ the body `infuse ask --json` prints). Bodies in and out are the wire format (toWire);
// a recipe in an ask body is the recipe file's own keys (`top_k`, `retriever: {mode}`…).
import { rm } from "node:fs/promises";
import type { Hono } from "hono";
import { isInfuseError } from "../core/errors.js";
import { toWire } from "../core/wire.js";
import { ask, askBody } from "../rag/pipeline/ask.js";
import { ingestRecords } from "../rag/pipeline/ingest.js";
import { mergeRecipes, parseRecipe } from "../rag/recipe/recipe.js";
import { checkCollectionName, summarize } from "../rag/store/index.js";
import { readJson, wireBody } from "./body.js";
import { z } from "zod";
import type { ServerContext } from "./context.js";
import { httpError } from "./errors.js";
import { jobWire, requireJobs } from "./api-jobs.js";
import { filesOf, storeUploads } from "./uploads.js";

/** A new collection: its name, a served embedder, and the ingest settings fixed at creation (checked by ingest). */
const CreateSchema = z.strictObject({
  name: z.string({ error: "a collection name" }),
  embedder: z.string({ error: "a served embedder id" }).min(1).exactOptional(),
  splitter: z.record(z.string(), z.unknown()).exactOptional(),
  fts: z.record(z.string(), z.unknown()).exactOptional(),
});

function collectionParam(name: string): string {
  try {
    return checkCollectionName(name);
  } catch (e) {
    if (isInfuseError(e))
      throw httpError(400, e.code, e.message, { param: "name", ...(e.hint ? { hint: e.hint } : {}) });
    throw e;
  }
}

/** Deletes an upload folder once its job has finished (the collection holds the text by then). */
function removeWhenFinished(ctx: ServerContext, jobId: string, dir: string): void {
  void (async () => {
    try {
      for await (const _ of ctx.jobs!.events(jobId)) void _;
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  })().catch((e: unknown) => ctx.log(`upload cleanup of job ${jobId}: ${(e as Error).message}`));
}

export function registerCollections(app: Hono, ctx: ServerContext): void {
  app.get("/api/collections", async (c) => {
    const [healthy, damaged] = await Promise.all([ctx.store.list(), ctx.store.damaged()]);
    return c.json(toWire({ collections: healthy, damaged }));
  });

  app.post("/api/collections", async (c) => {
    const body = await wireBody(c, CreateSchema);
    const name = collectionParam(body.name);
    if (await ctx.store.manifest(name))
      throw httpError(409, "collection_exists", `the collection ${name} exists`, { param: "name" });
    const spec = body.embedder ?? ctx.models.served.find((m) => m.kind === "embedding")?.id ?? "hash";
    ctx.models.find(spec, ["embedding"]);
    await ingestRecords(name, [], {
      embedderSpec: spec,
      ...(body.splitter ? { splitter: body.splitter } : {}),
      ...(body.fts ? { fts: body.fts } : {}),
      dataDir: ctx.config.dataDir,
      store: ctx.store,
      embedder: await ctx.models.embedder(spec),
      limits: ctx.limits,
    });
    return c.json(toWire(summarize(await ctx.store.requireManifest(name))), 201);
  });

  app.get("/api/collections/:name", async (c) => {
    const m = await ctx.store.requireManifest(collectionParam(c.req.param("name")));
    return c.json(
      toWire({
        ...summarize(m),
        fts: m.fts,
        splitterSettings: m.splitter,
        embedderSpec: m.embedder.spec,
        revision: m.revision,
        documents: Object.entries(m.units).map(([source, unit]) => ({ source, ...unit })),
      }),
    );
  });

  app.delete("/api/collections/:name", async (c) => {
    const name = collectionParam(c.req.param("name"));
    await ctx.store.delete(name);
    return c.json(toWire({ name, deleted: true }));
  });

  app.post("/api/collections/:name/documents", async (c) => {
    const name = collectionParam(c.req.param("name"));
    const jobs = requireJobs(ctx);
    const form = await c.req.parseBody({ all: true });
    const stored = await storeUploads(filesOf(form, "files"), "files", ctx.uploadDir, ctx.limits);
    let job;
    try {
      job = await jobs.submit("ingest", { collection: name, root: stored.dir, files: stored.files.map((f) => f.name) });
    } catch (e) {
      await rm(stored.dir, { recursive: true, force: true });
      throw e;
    }
    removeWhenFinished(ctx, job.id, stored.dir);
    return c.json(
      toWire({ jobId: job.id, job: jobWire(job), files: stored.files.map((f) => ({ name: f.name, bytes: f.bytes })) }),
      202,
    );
  });

  app.post("/api/collections/:name/ask", async (c) => {
    const name = collectionParam(c.req.param("name"));
    const body = await readJson(c);
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw httpError(400, "invalid_request", "(body): a JSON object {question, ...recipe}", { param: "question" });
    const { question, model, max_tokens: maxTokens, ...rest } = body as Record<string, unknown>;
    if (typeof question !== "string" || question.trim() === "")
      throw httpError(400, "invalid_request", "question: a non-empty string", { param: "question" });
    if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && (maxTokens as number) > 0))
      throw httpError(400, "invalid_request", "max_tokens: a positive integer", { param: "max_tokens" });
    let recipe;
    try {
      recipe = parseRecipe(rest, "request body");
    } catch (e) {
      if (isInfuseError(e) && typeof e.details["key"] === "string")
        throw httpError(400, e.code, e.message, { param: e.details["key"], ...(e.hint ? { hint: e.hint } : {}) });
      throw e;
    }
    if (model !== undefined && typeof model !== "string")
      throw httpError(400, "invalid_request", "model: a served model id", { param: "model" });
    const setup = await ctx.models.ragSetup(`rag:${name}`, model);
    const result = await ask(question, {
      dataDir: ctx.config.dataDir,
      store: ctx.store,
      collection: name,
      embedder: setup.embedder,
      ...(setup.llm ? { llm: setup.llm } : {}),
      ...(setup.noLlmReason ? { noLlmReason: setup.noLlmReason } : {}),
      recipe: mergeRecipes(setup.recipe, recipe),
      loadReranker: ctx.models.loadReranker(c.req.raw.signal),
      generate: { maxTokens: (maxTokens as number | undefined) ?? 512 },
      signal: c.req.raw.signal,
    });
    return c.json(toWire(askBody(result)));
  });
}
