import { defineConfig } from "vitest/config";

// Two cores on CI: one fork per core, and one native thread per fork (INFUSE_THREADS) so
// llama.cpp and onnxruntime in two forks do not spin against each other on two cores.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { INFUSE_THREADS: process.env["INFUSE_THREADS"] ?? "1" },
  },
});
