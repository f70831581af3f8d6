// The optional project file `infuse.config.json`, validated with zod. Unknown or wrongly
// typed keys are errors that name the key and the file. Sections whose schema belongs to a
// higher layer (`tune` → train/options, `ingest` → rag/pipeline/ingest-options, `rag.retrieval`
// → rag/recipe) are read here as plain
// objects and checked by that layer's schema through `configSection`, with the same errors:
// core/ imports nothing above it.
import { readFile } from "node:fs/promises";
import path from "node:path";
import os from "node:os";
import { z } from "zod";
import { InfuseError } from "./errors.js";
import { LimitsSchema, resolveLimits, type Limits } from "./limits.js";
import { defaultCacheDir, defaultDataDir } from "./paths.js";

export const CONFIG_FILE_NAME = "infuse.config.json";
export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

export const endpointSchema = z.strictObject({
  /**
   * `openai` (any OpenAI-compatible server), `ollama`, `local` (a GGUF via node-llama-cpp; a Hugging
   * Face folder or an adapter goes to the engine), or `engine` (infuse's own engine).
   */
  provider: z.enum(["openai", "ollama", "local", "engine"]),
  /** Model name on the server, or a model reference (path or hf:) for `local` and `engine`. */
  model: z.string().min(1),
  baseUrl: z.url().optional(),
  /** A LoRA adapter folder (from `infuse tune`) applied unmerged by the engine (`local`/`engine` only). */
  adapter: z.string().min(1).optional(),
});

/** Where collections live. One object per provider, told apart by `provider`. */
export const STORE_PROVIDERS = ["lancedb", "postgres"] as const;
const storeSchema = z.discriminatedUnion("provider", [
  z.strictObject({
    /** LanceDB on local disk. */
    provider: z.literal("lancedb"),
    /** The folder that holds the collections; default `<dataDir>/collections`. */
    path: z.string().min(1).optional(),
    /** The ANN index of large collections (docs/scaling.md): from `minRows` chunks (0: never), its kind and search breadth. */
    ann: z
      .strictObject({
        minRows: z.int().min(0).optional(),
        kind: z.enum(["ivf_pq", "ivf_hnsw_sq"]).optional(),
        nprobes: z.int().min(1).optional(),
        refineFactor: z.int().min(1).optional(),
        ef: z.int().min(1).optional(),
      })
      .optional(),
  }),
  z.strictObject({
    /** PostgreSQL with pgvector: a database many processes and machines share. */
    provider: z.literal("postgres"),
    /** `postgres://USER:PASSWORD@HOST:5432/DATABASE`, optionally `?schema=NAME` (default "infuse"). */
    url: z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// URL"),
  }),
]);

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  /** Where downloaded models go; `INFUSE_CACHE` overrides. */
  cacheDir: z.string().min(1).optional(),
  /** Where collections, logs and runs live; `INFUSE_HOME` overrides. */
  dataDir: z.string().min(1).optional(),
  hub: z
    .strictObject({
      endpoint: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
      offline: z.boolean().optional(),
    })
    .optional(),
  rag: z
    .strictObject({
      collection: z.string().min(1).optional(),
      embedder: z.union([z.string().min(1), endpointSchema]).optional(),
      llm: endpointSchema.optional(),
      topK: z.int().positive().optional(),
      /** The default retrieval recipe of ask and chat; a recipe file and flags override it key by key. */
      retrieval: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  store: storeSchema.optional(),
  /** Resource limits on untrusted input (core/limits.ts); defaults are safe. */
  limits: LimitsSchema.optional(),
  /** Defaults for `infuse tune` (flags override them), checked by tune()'s own schema. */
  tune: z.record(z.string(), z.unknown()).optional(),
  /** Defaults for `infuse ingest` (flags override them), checked by the ingest settings schema. */
  ingest: z.record(z.string(), z.unknown()).optional(),
  /** Defaults for `infuse serve` (flags override them), checked by the serve options schema. */
  serve: z.record(z.string(), z.unknown()).optional(),
});

export type ConfigFile = z.infer<typeof configSchema>;
/** A model behind a provider: `rag.llm`, or `rag.embedder` in object form. */
export type EndpointSpec = z.infer<typeof endpointSchema>;
/** The `store` section with its paths resolved. */
export type StoreConfig = z.infer<typeof storeSchema>;

export interface ResolvedConfig {
  /** The config file that was read, if any. */
  file: string | undefined;
  cacheDir: string;
  dataDir: string;
  hub: {
    endpoint: string;
    token: string | undefined;
    offline: boolean;
    /** A Hugging Face hub cache read before downloading (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else ~/.cache/huggingface/hub). */
    hfCacheDir?: string;
  };
  rag: NonNullable<ConfigFile["rag"]>;
  /** Resource limits in force (loadConfig always sets them); read them with `limitsOf(config)`. */
  limits?: Limits;
  /** The store provider; absent means LanceDB in `<dataDir>/collections`. */
  store?: StoreConfig;
  /** The `tune` section as written: read it through `configSection(config, "tune", schema)`. */
  tune?: Record<string, unknown>;
  /** The `ingest` section as written: read it through `configSection(config, "ingest", schema)`. */
  ingest?: Record<string, unknown>;
  /** The `serve` section as written: read it through `configSection(config, "serve", schema)`. */
  serve?: Record<string, unknown>;
}

export interface LoadConfigOptions {
  /** An explicit file (`--config`); it must exist. */
  file?: string;
  /** Where to look for `infuse.config.json` when no file is given. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Where the Hugging Face libraries keep their hub cache, as they find it. */
function hfHubCacheDir(env: NodeJS.ProcessEnv): string {
  const explicit = env["HF_HUB_CACHE"] || env["HUGGINGFACE_HUB_CACHE"];
  if (explicit) return path.resolve(explicit);
  const home = env["HF_HOME"] || path.join(env["XDG_CACHE_HOME"] || path.join(os.homedir(), ".cache"), "huggingface");
  return path.resolve(home, "hub");
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const explicit = options.file ?? env["INFUSE_CONFIG"];
  const file = explicit ? path.resolve(explicit) : path.resolve(options.cwd ?? process.cwd(), CONFIG_FILE_NAME);
  const parsed = await readConfigFile(file, explicit !== undefined);
  const base = parsed ? path.dirname(file) : process.cwd();
  const fromFile = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(base, p));
  const offlineEnv = env["INFUSE_OFFLINE"] ?? env["HF_HUB_OFFLINE"];
  return {
    file: parsed ? file : undefined,
    cacheDir: env["INFUSE_CACHE"] ? defaultCacheDir(env) : (fromFile(parsed?.cacheDir) ?? defaultCacheDir(env)),
    dataDir: env["INFUSE_HOME"] ? defaultDataDir(env) : (fromFile(parsed?.dataDir) ?? defaultDataDir(env)),
    hub: {
      endpoint: (env["HF_ENDPOINT"] ?? parsed?.hub?.endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, ""),
      token: env["HF_TOKEN"] || undefined,
      offline: offlineEnv !== undefined ? offlineEnv === "1" || offlineEnv === "true" : (parsed?.hub?.offline ?? false),
      hfCacheDir: hfHubCacheDir(env),
    },
    rag: parsed?.rag ?? {},
    limits: resolveLimits(parsed?.limits),
    ...(parsed?.store ? { store: resolveStore(parsed.store, fromFile) } : {}),
    tune: parsed?.tune ?? {},
    ingest: parsed?.ingest ?? {},
    serve: parsed?.serve ?? {},
  };
}

function resolveStore(store: StoreConfig, fromFile: (p: string | undefined) => string | undefined): StoreConfig {
  return store.provider !== "lancedb" || store.path === undefined ? store : { ...store, path: fromFile(store.path)! };
}

/** The options every command shares: which store (a flag on the command line, `store` in the file). */
export const GlobalOptionsSchema = z.strictObject({
  store: z.string().min(1).optional().meta({
    flag: "--store",
    arg: "<url|folder>",
    help: "where collections live: postgres://USER:PASSWORD@HOST/DB (Postgres + pgvector) or a folder (LanceDB); overrides the config's store",
  }),
});

/**
 * The store a `--store` flag names: a postgres:// URL, or a folder for LanceDB (resolved against
 * the working directory). Replaces the config file's `store` section.
 */
export function storeFromFlag(value: string): StoreConfig {
  if (/^postgres(ql)?:\/\//.test(value)) return { provider: "postgres", url: value };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new InfuseError(
      "config.store_flag",
      `--store takes a postgres:// URL or a folder, not ${value.split("//")[0]}// URLs`,
      {
        kind: "usage",
        hint: "write --store postgres://USER:PASSWORD@HOST:5432/DATABASE, or --store ./collections for LanceDB in a folder",
      },
    );
  }
  return { provider: "lancedb", path: path.resolve(value) };
}

async function readConfigFile(file: string, mustExist: boolean): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (!mustExist && (e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InfuseError("config.unreadable", `cannot read config file ${file}`, {
      kind: mustExist ? "not_found" : "io",
      hint: "check the path given to --config or INFUSE_CONFIG",
      cause: e,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InfuseError("config.invalid_json", `${file} is not valid JSON: ${(e as Error).message}`, {
      kind: "usage",
      hint: "fix the JSON syntax (no comments or trailing commas)",
      cause: e,
    });
  }
  return parseConfig(json, file);
}

/** The sections a higher layer validates with its own schema. */
export type ConfigSectionKey = "tune" | "ingest" | "serve" | "rag.retrieval";

/**
 * A section checked by the schema of the layer that owns it (tune's options, the recipe); errors
 * name the file and the key path as every other config error does. Undefined when absent.
 */
export function configSection<S extends z.ZodType>(
  config: Pick<ResolvedConfig, "file" | "rag" | "tune" | "ingest" | "serve">,
  key: ConfigSectionKey,
  schema: S,
): z.output<S> | undefined {
  const value =
    key === "tune"
      ? config.tune
      : key === "ingest"
        ? config.ingest
        : key === "serve"
          ? config.serve
          : config.rag.retrieval;
  if (value === undefined) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw configIssue(result.error.issues[0]!, config.file ?? "infuse.config.json", key.split("."), value);
}

/** Validates a config object; errors name the first bad key and the file. */
export function parseConfig(json: unknown, file: string): ConfigFile {
  const result = configSchema.safeParse(json);
  if (result.success) return result.data;
  throw configIssue(result.error.issues[0]!, file, [], json);
}

function configIssue(issue: z.core.$ZodIssue, file: string, prefix: string[], json: unknown): InfuseError {
  const at = [...prefix, ...issue.path.map(String)].join(".");
  if (at === "store.provider") {
    const given = (json as { store?: { provider?: unknown } }).store?.provider;
    const what =
      given === undefined ? `"store.provider" is missing` : `unknown store provider ${JSON.stringify(given)}`;
    return new InfuseError("config.store_provider", `${file}: ${what}`, {
      kind: "usage",
      hint: `set "store.provider" to one of: ${STORE_PROVIDERS.join(", ")}`,
      details: { file, key: at, known: [...STORE_PROVIDERS] },
    });
  }
  if (issue.code === "unrecognized_keys") {
    const key = [at, issue.keys[0]].filter(Boolean).join(".");
    return new InfuseError("config.unknown_key", `${file}: unknown key "${key}"`, {
      kind: "usage",
      hint: `remove "${key}" or fix its spelling; see docs/configuration.md for the keys infuse reads`,
      details: { file, key },
    });
  }
  return new InfuseError("config.invalid_value", `${file}: "${at || "(root)"}" ${issue.message}`, {
    kind: "usage",
    hint: `fix the value of "${at}"; see docs/configuration.md`,
    details: { file, key: at },
  });
}
