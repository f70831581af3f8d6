// Where infuse keeps things on disk. Environment variables win over the config file,
// which wins over the platform defaults (XDG on Linux, Library on macOS, AppData on Windows).
import envPaths from "env-paths";
import path from "node:path";

const platformPaths = envPaths("infuse", { suffix: "" });

/** Cache for downloaded models (`INFUSE_CACHE`). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env["INFUSE_CACHE"] ?? platformPaths.cache);
}

/** Home for collections, logs and runs (`INFUSE_HOME`). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env["INFUSE_HOME"] ?? platformPaths.data);
}
