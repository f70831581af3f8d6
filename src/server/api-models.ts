// /api/models/recommended: the models a first run offers (a small embedder, a reranker, a small
// instruct GGUF), which of them are already in the cache, and a `pull` job that downloads the
// chosen ones through the hub client with progress. Offline is an answer (`online: false`), not an
// error: the UI then keeps the embedded defaults.
import type { Hono } from "hono";
import { toWire } from "../core/wire.js";
import { RECOMMENDED_MODELS } from "../hub/recommended.js";
import { resolveModel } from "../hub/resolve.js";
import { PullJobSchema } from "../jobs/handlers.js";
import { jobWire, requireJobs } from "./api-jobs.js";
import { wireBody } from "./body.js";
import type { ServerContext } from "./context.js";

/** Is the model in the cache? Asked offline, so listing never touches the network. */
async function installed(ctx: ServerContext, ref: string): Promise<boolean> {
  const config = { ...ctx.config, hub: { ...ctx.config.hub, offline: true } };
  return resolveModel(ref, { config }).then(
    () => true,
    () => false,
  );
}

export function registerModels(app: Hono, ctx: ServerContext): void {
  app.get("/api/models/recommended", async (c) => {
    const models = await Promise.all(
      RECOMMENDED_MODELS.map(async (m) => ({ ...m, installed: await installed(ctx, m.ref) })),
    );
    // an offline config cannot download; whether the hub answers is learned by the pull job
    return c.json(toWire({ ...(ctx.config.hub.offline ? { online: false } : {}), models }));
  });

  app.post("/api/models/recommended", async (c) => {
    const jobs = requireJobs(ctx);
    const input = await wireBody(c, PullJobSchema);
    const job = await jobs.submit("pull", input);
    return c.json(toWire({ jobId: job.id, job: jobWire(job) }), 202);
  });
}
