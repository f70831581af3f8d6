// A ResolvedConfig for RAG tests: offline hub on an unused port, caches in the given folder.
import type { ResolvedConfig } from "../../src/core/config.js";

export function offlineConfig(dir = "/nonexistent-infuse"): ResolvedConfig {
  return {
    file: undefined,
    cacheDir: `${dir}/cache`,
    dataDir: `${dir}/data`,
    hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
    rag: {},
  };
}
