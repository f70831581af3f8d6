import { defineConfig } from "vitest/config";

// Two cores on CI: one fork per core; heavy suites keep their own sizes small.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
