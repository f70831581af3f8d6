// `infuse serve`'s settings as one zod schema: the CLI builds its flags from the fields' `.meta()`,
// the config file's `serve` section is checked by it (configSection), and startServer() takes it.
// Runtime parts (the resolved config, a job queue, the signal) are not settings and stay apart.
import { z } from "zod";
import { InfuseError } from "../core/errors.js";
import { flagFields, optionError, type FlagMeta } from "../core/option-schema.js";

const want = {
  port: "a port number from 0 to 65535",
  host: "a host name or IP address",
  list: "a list of non-empty strings",
  key: "a non-empty string",
} as const;

const opt = <T extends z.ZodType>(t: T, meta: FlagMeta) => t.exactOptional().meta(meta);
const list = () => z.array(z.string({ error: want.list }).min(1, { error: want.list }), { error: want.list });

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = "127.0.0.1";

export const ServeOptionsSchema = z.strictObject({
  port: opt(z.int({ error: want.port }).min(0, { error: want.port }).max(65535, { error: want.port }), {
    flag: "--port",
    arg: "<n>",
    help: `port to listen on (${DEFAULT_PORT}; 0 picks a free one)`,
  }),
  host: opt(z.string({ error: want.host }).min(1, { error: want.host }), {
    flag: "--host",
    arg: "<host>",
    help: `address to bind (${DEFAULT_HOST}); any other host needs an API key`,
  }),
  /** Chat models served by id: a GGUF path or hf: reference, engine:MODEL[+ADAPTER], openai:…, ollama:…, rag:COLLECTION. */
  models: opt(list(), {
    flag: "--model",
    arg: "<ref...>",
    help: "a chat model to serve (repeatable): GGUF path, hf: ref, engine:MODEL[+ADAPTER], openai:M, ollama:M, rag:COLLECTION (default: rag.llm)",
  }),
  /** Embedding models served by id for /v1/embeddings. */
  embedders: opt(list(), {
    flag: "--embedder",
    arg: "<spec...>",
    help: 'an embedding model to serve (repeatable): "hash", a model folder, hf: ref, openai:M, ollama:M (default: rag.embedder, else hash)',
  }),
  /** Bearer key every route asks for; INFUSE_API_KEY sets it too. Required when the host is not loopback. */
  apiKey: opt(z.string({ error: want.key }).min(1, { error: want.key }), {
    flag: "--api-key",
    arg: "<key>",
    help: "require this Bearer key on every route (default: INFUSE_API_KEY; required off 127.0.0.1)",
  }),
  /** Browser origins allowed by CORS; none by default (CORS off). */
  cors: opt(list(), {
    flag: "--cors",
    arg: "<origin...>",
    help: "allow these browser origins (repeatable; CORS is off by default)",
  }),
});

export type ServeOptions = z.infer<typeof ServeOptionsSchema>;

export const SERVE_FLAG_FIELDS = flagFields(ServeOptionsSchema);

const flagOf = (p: string[]): string | undefined =>
  SERVE_FLAG_FIELDS.find((f) => f.path.join(".") === p.join("."))?.meta.flag;

/** Validates serve options (flags and config merged); the error names the option and its flag. */
export function parseServeOptions(input: unknown): ServeOptions {
  const result = ServeOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  throw optionError(result.error, input, { code: "serve.bad_option", noun: "a serve option", flagOf });
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The API key in force (option, else INFUSE_API_KEY); refuses a non-loopback host without one. */
export function apiKeyFor(options: ServeOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = options.apiKey ?? (env["INFUSE_API_KEY"] || undefined);
  const host = options.host ?? DEFAULT_HOST;
  if (key === undefined && !isLoopback(host)) {
    throw new InfuseError("serve.needs_api_key", `binding ${host} needs an API key`, {
      kind: "usage",
      hint: "pass --api-key KEY (or set INFUSE_API_KEY), or keep the default --host 127.0.0.1",
      details: { option: "apiKey", flag: "--api-key" },
    });
  }
  return key;
}
