// The config's `store` section chooses the provider: LanceDB in <dataDir>/collections when it
// is absent, `store.path` resolved against the config file's folder, and unknown providers a
// usage error that lists the known ones.
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, storeFromFlag, type ResolvedConfig } from "../../src/core/config.js";
import { LanceDbStoreProvider, PostgresStoreProvider, storeProvider } from "../../src/rag/store/index.js";

async function configWith(json: unknown): Promise<{ dir: string; load: () => Promise<ResolvedConfig> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-store-config-"));
  const file = path.join(dir, "infuse.config.json");
  await writeFile(file, JSON.stringify(json));
  return { dir, load: () => loadConfig({ file, env: { INFUSE_HOME: path.join(dir, "home") } }) };
}

describe("store provider from the config", () => {
  it("is LanceDB in <dataDir>/collections without a store section", async () => {
    const { dir, load } = await configWith({});
    const config = await load();
    expect(config.store).toBeUndefined();
    const provider = storeProvider(config);
    expect(provider).toBeInstanceOf(LanceDbStoreProvider);
    expect(provider.describe()).toBe(`lancedb:${path.join(dir, "home", "collections")}`);
  });

  it("puts LanceDB collections in store.path, relative to the config file", async () => {
    const { dir, load } = await configWith({ store: { provider: "lancedb", path: "stores/main" } });
    const config = await load();
    expect(config.store).toEqual({ provider: "lancedb", path: path.join(dir, "stores/main") });
    expect(storeProvider(config).describe()).toBe(`lancedb:${path.join(dir, "stores/main")}`);
  });

  it("names the known providers when the provider is unknown or missing", async () => {
    const unknown = await configWith({ store: { provider: "postgress", url: "postgres://x" } });
    await expect(unknown.load()).rejects.toMatchObject({
      code: "config.store_provider",
      kind: "usage",
      message: expect.stringContaining('unknown store provider "postgress"') as string,
      hint: 'set "store.provider" to one of: lancedb, postgres',
    });
    const missing = await configWith({ store: { path: "x" } });
    await expect(missing.load()).rejects.toMatchObject({
      code: "config.store_provider",
      message: expect.stringContaining('"store.provider" is missing') as string,
    });
    const extra = await configWith({ store: { provider: "lancedb", url: "postgres://x" } });
    await expect(extra.load()).rejects.toMatchObject({ code: "config.unknown_key", details: { key: "store.url" } });
    const bad = { dataDir: "/tmp/x", store: { provider: "mongo" } } as unknown as ResolvedConfig;
    expect(() => storeProvider(bad)).toThrow(expect.objectContaining({ code: "config.store_provider" }));
  });

  it("is Postgres for provider postgres with a url, described with the password masked", async () => {
    const url = "postgres://ann:s3cret@db.example:5432/rag?schema=team_a";
    const { load } = await configWith({ store: { provider: "postgres", url } });
    const config = await load();
    expect(config.store).toEqual({ provider: "postgres", url });
    const provider = storeProvider(config);
    expect(provider).toBeInstanceOf(PostgresStoreProvider);
    expect(provider.describe()).toBe("postgres://ann:***@db.example:5432/rag?schema=team_a");
    await provider.close();
    const noUrl = await configWith({ store: { provider: "postgres" } });
    await expect(noUrl.load()).rejects.toMatchObject({
      kind: "usage",
      message: expect.stringContaining("store.url") as string,
    });
    const notPg = await configWith({ store: { provider: "postgres", url: "mysql://x@y/z" } });
    await expect(notPg.load()).rejects.toMatchObject({
      kind: "usage",
      message: expect.stringContaining("store.url") as string,
    });
  });

  it("--store takes a postgres:// URL or a LanceDB folder", () => {
    expect(storeFromFlag("postgres://a@h/db")).toEqual({ provider: "postgres", url: "postgres://a@h/db" });
    expect(storeFromFlag("postgresql://a@h/db")).toEqual({ provider: "postgres", url: "postgresql://a@h/db" });
    expect(storeFromFlag("rel/dir")).toEqual({ provider: "lancedb", path: path.resolve("rel/dir") });
    expect(() => storeFromFlag("redis://h:6379")).toThrow(expect.objectContaining({ code: "config.store_flag" }));
  });
});
