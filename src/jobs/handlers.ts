// What each job kind does: a registry kind → { zod input schema, handler } over the library's own
// functions (ingest, tune, retrieval and answer evaluation), so a queued job runs exactly what the
// CLI runs. Crawl and the embedding kinds join when their library functions exist.
import path from "node:path";
import { z } from "zod";
import type { ResolvedConfig } from "../core/config.js";
import { InfuseError } from "../core/errors.js";
import { limitsOf } from "../core/limits.js";
import { pullRecommended, RECOMMENDED_MODELS } from "../hub/recommended.js";
import { optionError } from "../core/option-schema.js";
import { evaluateAnswers, ANSWER_SETTINGS } from "../eval/run-answers.js";
import { evaluateRetrievalConfigs } from "../eval/run-retrieval.js";
import { mediaTypeForName, readBytes } from "../rag/load/index.js";
import { ingestPath, ingestSources } from "../rag/pipeline/ingest.js";
import { IngestSettingsSchema, type IngestSettings } from "../rag/pipeline/ingest-options.js";
import { DEFAULT_EMBEDDER_SPEC, resolveEmbedder } from "../rag/pipeline/models.js";
import { RecipeSchema, type Recipe } from "../rag/recipe/schema.js";
import { parseRecipeShorthand } from "../rag/recipe/shorthand.js";
import type { Source } from "../rag/source/index.js";
import { storeProvider } from "../rag/store/index.js";
import { TuneOptionsSchema, type TuneOptions } from "../train/options.js";
import { tune } from "../train/tune.js";
import type { JobContext, JobHandler, JobKind } from "./types.js";
import { waitForWriter } from "./wait-writer.js";

/** What every handler runs against: the resolved config (data folder, store, hub, limits). */
export interface JobEnv {
  config: ResolvedConfig;
  /** How long an ingest job waits for another writer of its collection; default 10 minutes. */
  busyWaitMs?: number;
}

export interface JobKindSpec {
  schema: z.ZodType;
  handler: JobHandler;
}

export type JobRegistry = Partial<Record<JobKind, JobKindSpec>>;

const text = (what: string) => z.string({ error: what }).min(1, { error: what });

/**
 * An ingest job: `path` (a file or a folder, synced like `infuse ingest PATH`), or `root` + `files`
 * (paths relative to root: the per-file jobs `ingest --queue` makes; they never remove anything).
 * Files keep the keys a folder ingest of `root` gives them, so either way finds the other's work.
 */
export const IngestJobSchema = z
  .strictObject({
    collection: text("a collection name"),
    path: text("a file or folder path").exactOptional(),
    root: text("a folder path").exactOptional(),
    files: z.array(text("a path relative to root")).min(1, { error: "at least one file" }).exactOptional(),
    settings: IngestSettingsSchema.exactOptional(),
  })
  .refine((j) => (j.path !== undefined) !== (j.root !== undefined && j.files !== undefined), {
    error: "either path, or root and files",
    path: ["path"],
  });
export type IngestJob = z.input<typeof IngestJobSchema>;

const recipeSpec = z.union([text("a recipe shorthand (bm25, hybrid+rerank…)"), RecipeSchema]);

export const EvalRetrievalJobSchema = z.strictObject({
  beir: text("a BEIR folder"),
  split: text("a split name").exactOptional(),
  recipes: z.array(recipeSpec).min(1, { error: "at least one recipe" }),
  topK: z.int().min(1).exactOptional(),
  limit: z.int().min(1).exactOptional(),
  embedder: text("an embedder spec").exactOptional(),
  llm: text("a chat model spec").exactOptional(),
  fresh: z.boolean().exactOptional(),
});

export const EvalAnswersJobSchema = z.strictObject({
  data: text("a QA data file"),
  fields: z
    .strictObject({
      question: text("a column").exactOptional(),
      answer: text("a column").exactOptional(),
      context: text("a column").exactOptional(),
      prediction: text("a column").exactOptional(),
    })
    .exactOptional(),
  collection: text("a collection name").exactOptional(),
  embedder: text("an embedder spec").exactOptional(),
  llm: z.union([text("a chat model spec"), z.array(text("a chat model spec"))]).exactOptional(),
  adapter: text("an adapter folder").exactOptional(),
  settings: z.array(z.enum(ANSWER_SETTINGS)).min(1).exactOptional(),
  maxTokens: z.int().min(1).exactOptional(),
  judge: z.union([z.boolean(), text("a chat model spec")]).exactOptional(),
  recipe: recipeSpec.exactOptional(),
  limit: z.int().min(1).exactOptional(),
});

/** A pull job: some of the recommended models (a first run's offer), downloaded into the cache. */
export const PullJobSchema = z.strictObject({
  refs: z
    .array(z.enum(RECOMMENDED_MODELS.map((m) => m.ref) as [string, ...string[]], { error: "a recommended model ref" }))
    .min(1, { error: "at least one model" }),
});

function recipeOf(spec: string | Recipe): Recipe {
  return typeof spec === "string" ? parseRecipeShorthand(spec) : spec;
}

/** Checks a job's input against its kind's schema: the parsed input, or `jobs.bad_input` naming the field. */
export function validateJobInput(registry: JobRegistry, kind: string, input: unknown): unknown {
  const spec = Object.hasOwn(registry, kind) ? registry[kind as JobKind] : undefined;
  if (!spec) {
    throw new InfuseError("jobs.unknown_kind", `no handler for job kind "${kind}"`, {
      kind: "usage",
      hint: `use one of: ${Object.keys(registry).join(", ")}`,
      details: { kind, known: Object.keys(registry) },
    });
  }
  const parsed = spec.schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw optionError(parsed.error, input, {
    code: "jobs.bad_input",
    noun: `an input of a ${kind} job`,
    flagOf: () => undefined,
  });
}

/** The handlers of every kind this build runs, over `env`'s config. */
export function jobHandlers(env: JobEnv): JobRegistry {
  return {
    ingest: { schema: IngestJobSchema, handler: (input, ctx) => runIngest(input as IngestJob, ctx, env) },
    tune: { schema: TuneOptionsSchema, handler: (input, ctx) => runTune(input as TuneOptions, ctx, env) },
    "eval-retrieval": {
      schema: EvalRetrievalJobSchema,
      handler: (input, ctx) => {
        const j = input as z.output<typeof EvalRetrievalJobSchema>;
        return evaluateRetrievalConfigs({
          ...j,
          recipes: j.recipes.map(recipeOf),
          config: env.config,
          signal: ctx.signal,
          onProgress: (e) => ctx.progress(e),
          onNote: (t) => ctx.log(t),
        });
      },
    },
    pull: {
      schema: PullJobSchema,
      handler: async (input, ctx) => {
        const { refs } = input as z.output<typeof PullJobSchema>;
        const result = await pullRecommended({
          config: env.config,
          models: RECOMMENDED_MODELS.filter((m) => refs.includes(m.ref)),
          signal: ctx.signal,
          onProgress: (e) => ctx.progress(e),
        });
        if (result.offline) ctx.log(`offline: ${result.reason}`);
        // where each model is, not its whole file list
        return {
          offline: result.offline,
          ...(result.offline ? { reason: result.reason } : {}),
          models: result.models.map((m) => ({ role: m.role, ref: m.ref, path: m.resolved.path })),
        };
      },
    },
    "eval-answers": {
      schema: EvalAnswersJobSchema,
      handler: (input, ctx) => {
        const { recipe, ...j } = input as z.output<typeof EvalAnswersJobSchema>;
        return evaluateAnswers({
          ...j,
          ...(recipe !== undefined ? { recipe: recipeOf(recipe) } : {}),
          config: env.config,
          signal: ctx.signal,
          onProgress: (e) => ctx.progress(e),
          onConfiguration: (c) => ctx.log(`finished ${c.name}`),
        });
      },
    },
  };
}

async function runTune(input: TuneOptions, ctx: JobContext, env: JobEnv): Promise<unknown> {
  return tune(input, {
    config: env.config,
    signal: ctx.signal,
    onProgress: (e) => ctx.progress(e),
    onWarning: (m) => ctx.log(m),
    onMetric: (line) => {
      const m: Record<string, number> = {};
      if (line.loss !== undefined) m.loss = line.loss;
      if (line.eval_loss !== undefined) m.eval_loss = line.eval_loss;
      if (line.tokens_per_s !== undefined) m.tokens_per_second = line.tokens_per_s;
      if (line.lr !== undefined) m.lr = line.lr;
      if (Object.keys(m).length > 0) ctx.metric(line.step, m);
    },
  });
}

/** The stored settings of the collection, then the job's: a job adds to a collection as it was built. */
async function ingestJobSettings(job: IngestJob, env: JobEnv): Promise<IngestSettings> {
  const existing = await storeProvider(env.config).manifest(job.collection);
  const stored: IngestSettings = existing
    ? {
        embedderSpec: existing.embedder.endpoint ?? existing.embedder.spec,
        splitter: existing.splitter,
        ...(existing.fts ? { fts: existing.fts } : {}),
      }
    : { embedderSpec: env.config.rag.embedder ?? DEFAULT_EMBEDDER_SPEC };
  const own = job.settings ?? {};
  return {
    ...stored,
    ...own,
    ...(stored.splitter || own.splitter ? { splitter: { ...stored.splitter, ...own.splitter } } : {}),
  };
}

/** One file under `root` as the source a folder ingest of `root` makes of it (same key, same root). */
export function fileSource(root: string, file: string, env: JobEnv): Source {
  const abs = path.resolve(root, file);
  const key = path.relative(path.resolve(root), abs).split(path.sep).join("/");
  if (key.startsWith("../") || path.isAbsolute(key)) {
    throw new InfuseError("jobs.bad_input", `files: "${file}" is outside ${root}`, {
      kind: "usage",
      hint: "name files relative to root, inside it",
      details: { root, file },
    });
  }
  const limits = limitsOf(env.config);
  return { key, root: path.resolve(root), mediaType: mediaTypeForName(key), bytes: () => readBytes(abs, key, limits) };
}

async function runIngest(job: IngestJob, ctx: JobContext, env: JobEnv): Promise<unknown> {
  const settings = await ingestJobSettings(job, env);
  const embedder = await resolveEmbedder(settings.embedderSpec ?? DEFAULT_EMBEDDER_SPEC, {
    config: env.config,
    signal: ctx.signal,
  });
  const options = {
    ...settings,
    dataDir: env.config.dataDir,
    store: storeProvider(env.config),
    embedder,
    limits: limitsOf(env.config),
    signal: ctx.signal,
    onProgress: (e: Parameters<JobContext["progress"]>[0]) => ctx.progress(e),
  };
  try {
    // several workers share one collection: a job whose collection is being written waits its turn
    return await waitForWriter(
      () =>
        job.path !== undefined
          ? ingestPath(job.collection, job.path, options)
          : ingestSources(
              job.collection,
              job.files!.map((f) => fileSource(job.root!, f, env)),
              options,
            ),
      { signal: ctx.signal, maxWaitMs: env.busyWaitMs ?? 600_000, onWait: (m) => ctx.log(m) },
    );
  } finally {
    await embedder.dispose?.();
  }
}
