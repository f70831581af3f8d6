// What every route of one server shares: the config, the models it serves, the store, the limits,
// the job queue (when one is attached), a temp folder it owns for uploads, and its log.
import type { ResolvedConfig } from "../core/config.js";
import type { Limits } from "../core/limits.js";
import type { JobQueue } from "../jobs/types.js";
import type { StoreProvider } from "../rag/store/index.js";
import type { ModelRegistry } from "./models.js";

export interface ServerContext {
  config: ResolvedConfig;
  limits: Limits;
  models: ModelRegistry;
  store: StoreProvider;
  /** The queue long work (ingest, tune, eval) runs on. */
  jobs: JobQueue | undefined;
  /** A folder this server created for uploads; request file names never reach a path. */
  uploadDir: string;
  /** The Bearer key every route asks for, if any. */
  apiKey: string | undefined;
  /** Browser origins allowed by CORS (none: CORS off). */
  cors: readonly string[];
  log(message: string): void;
}
