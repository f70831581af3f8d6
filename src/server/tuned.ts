// `tuned:JOB_ID` as a chat model: a finished tune job's adapter on the base model it was trained on
// (adapter_config.json's base_model_name_or_path), run unmerged by infuse's engine, so a client can
// ask the base and the tuned model the same question side by side. The paths come from the job's own
// result, never from the request.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ServerContext } from "./context.js";
import { httpError } from "./errors.js";
import type { ModelKind, ServedModel } from "./models.js";

const TUNED = /^tuned:(.+)$/;

/** The served model for `id`; a `tuned:JOB` id is served from its job's adapter on first use. */
export async function servedModel(ctx: ServerContext, id: string, kinds: readonly ModelKind[]): Promise<ServedModel> {
  const m = TUNED.exec(id);
  if (!m || !kinds.includes("chat") || ctx.models.served.some((s) => s.id === id)) return ctx.models.find(id, kinds);
  const job = ctx.jobs ? await ctx.jobs.get(m[1]!) : undefined;
  const out = (job?.result as { out?: unknown } | undefined)?.out;
  if (!job || job.kind !== "tune" || job.status !== "done" || typeof out !== "string")
    throw httpError(404, "model_not_found", `"${id}" names no finished tune job`, {
      param: "model",
      hint: "use tuned:JOB_ID with the id of a tune job whose status is done (GET /api/jobs)",
    });
  let base: unknown;
  try {
    base = (JSON.parse(await readFile(path.join(out, "adapter_config.json"), "utf8")) as { base_model_name_or_path?: unknown })
      .base_model_name_or_path;
  } catch {
    base = undefined;
  }
  if (typeof base !== "string" || base === "")
    throw httpError(404, "model_not_found", `the adapter of job ${job.id} does not name its base model`, { param: "model" });
  return ctx.models.serveAs(id, `engine:${base}+${out}`);
}
