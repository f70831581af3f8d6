// startServer(): the app on a real socket, with what it owns: the models it loaded, its job queue
// (in-process, from jobs/), its upload folder. close() stops taking requests and releases them all.
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import type { ResolvedConfig } from "../core/config.js";
import { limitsOf } from "../core/limits.js";
import { jobHandlers } from "../jobs/handlers.js";
import { LocalJobQueue } from "../jobs/local-queue.js";
import type { JobQueue } from "../jobs/types.js";
import { storeProvider } from "../rag/store/index.js";
import { createApp } from "./app.js";
import type { ServerContext } from "./context.js";
import { ModelRegistry } from "./models.js";
import { apiKeyFor, DEFAULT_HOST, DEFAULT_PORT, parseServeOptions } from "./options.js";

export interface StartServerOptions {
  config: ResolvedConfig;
  /** The serve settings (flags over the config's `serve` section); checked here. */
  options: unknown;
  env?: NodeJS.ProcessEnv;
  /** A queue to run jobs on; default an in-process LocalJobQueue (its jobs kept in `<dataDir>/jobs.json`). */
  jobs?: JobQueue;
  /** Jobs run at once by the default queue; default 1. */
  jobConcurrency?: number;
  /** Where the web UI's build is; default dist/web in the package. */
  webUiDir?: string;
  log?: (message: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  context: ServerContext;
  close(): Promise<void>;
}

export async function startServer(start: StartServerOptions): Promise<RunningServer> {
  const options = parseServeOptions(start.options);
  // Generation, embeddings and jobs run sessions on threads at once here: onnxruntime pools that spin
  // between ops take the cores from one another (serve bench, 32 chats + an ingest job: 1,088–1,320
  // tokens/s spinning, 1,642–1,829 not). Worker threads started from now on inherit it.
  process.env["INFUSE_ORT_SPIN"] ??= "0";
  const apiKey = apiKeyFor(options, start.env ?? process.env);
  const config = start.config;
  const host = options.host ?? DEFAULT_HOST;
  const store = storeProvider(config);
  const chatIds =
    options.models ??
    (config.rag.llm !== undefined
      ? [typeof config.rag.llm === "string" ? config.rag.llm : `${config.rag.llm.provider}:${config.rag.llm.model}`]
      : []);
  const embedder = config.rag.embedder;
  const embedderIds = options.embedders ?? [
    embedder === undefined
      ? "hash"
      : typeof embedder === "string"
        ? embedder
        : `${embedder.provider}:${embedder.model}`,
  ];
  const models = new ModelRegistry(config, store, chatIds, embedderIds);
  const jobs =
    start.jobs ??
    (await LocalJobQueue.open({
      handlers: jobHandlers({ config }),
      concurrency: start.jobConcurrency ?? 1,
      file: path.join(config.dataDir, "jobs.json"),
    }));
  const uploadDir = await mkdtemp(path.join(os.tmpdir(), "infuse-serve-"));
  const log = start.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const context: ServerContext = {
    config,
    limits: limitsOf(config),
    models,
    store,
    jobs,
    uploadDir,
    apiKey,
    cors: options.cors ?? [],
    log,
  };
  const app = createApp(context, start.webUiDir !== undefined ? { webUiDir: start.webUiDir } : {});
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? DEFAULT_PORT, hostname: host }, () => resolve(s));
    s.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    context,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        if (!start.jobs) await jobs.close();
        await models.dispose();
        await store.close();
        await rm(uploadDir, { recursive: true, force: true });
      })()),
  };
}
