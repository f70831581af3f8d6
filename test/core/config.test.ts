import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig } from "../../src/core/config.js";
import { InfuseError } from "../../src/core/errors.js";

async function projectWith(config: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-config-"));
  await writeFile(path.join(dir, "infuse.config.json"), typeof config === "string" ? config : JSON.stringify(config));
  return dir;
}

describe("loadConfig", () => {
  it("uses defaults when there is no config file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-config-"));
    const config = await loadConfig({ cwd: dir, env: { INFUSE_CACHE: "/x/cache" } });
    expect(config.file).toBeUndefined();
    expect(config.cacheDir).toBe("/x/cache");
    expect(config.hub.endpoint).toBe("https://huggingface.co");
    expect(config.hub.offline).toBe(false);
  });

  it("reads the project file, resolving paths against its folder", async () => {
    const dir = await projectWith({ cacheDir: "models", hub: { endpoint: "http://127.0.0.1:9/" }, rag: { topK: 7 } });
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.file).toBe(path.join(dir, "infuse.config.json"));
    expect(config.cacheDir).toBe(path.join(dir, "models"));
    expect(config.hub.endpoint).toBe("http://127.0.0.1:9");
    expect(config.rag.topK).toBe(7);
  });

  it("lets environment variables win over the file", async () => {
    const dir = await projectWith({ cacheDir: "models", hub: { offline: false } });
    const config = await loadConfig({
      cwd: dir,
      env: {
        INFUSE_CACHE: "/env/cache",
        HF_ENDPOINT: "http://mirror",
        HF_TOKEN: "t",
        INFUSE_OFFLINE: "1",
        HF_HOME: "/env/hf",
      },
    });
    expect(config.cacheDir).toBe("/env/cache");
    expect(config.hub).toEqual({ endpoint: "http://mirror", token: "t", offline: true, hfCacheDir: "/env/hf/hub" });
    const hubCache = await loadConfig({ cwd: dir, env: { HF_HOME: "/env/hf", HF_HUB_CACHE: "/env/hub-cache" } });
    expect(hubCache.hub.hfCacheDir).toBe("/env/hub-cache");
  });

  it("names the unknown key and the file", async () => {
    const dir = await projectWith({ rag: { topk: 3 } });
    const err = await loadConfig({ cwd: dir, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfuseError);
    expect((err as InfuseError).code).toBe("config.unknown_key");
    expect((err as InfuseError).message).toContain('unknown key "rag.topk"');
    expect((err as InfuseError).message).toContain(path.join(dir, "infuse.config.json"));
    expect((err as InfuseError).kind).toBe("usage");
  });

  it("names a key with a value of the wrong type", async () => {
    const dir = await projectWith({ rag: { topK: "five" } });
    const err = (await loadConfig({ cwd: dir, env: {} }).catch((e: unknown) => e)) as InfuseError;
    expect(err.code).toBe("config.invalid_value");
    expect(err.message).toContain('"rag.topK"');
  });

  it("reports broken JSON and a missing explicit file", async () => {
    const dir = await projectWith("{ nope");
    const bad = (await loadConfig({ cwd: dir, env: {} }).catch((e: unknown) => e)) as InfuseError;
    expect(bad.code).toBe("config.invalid_json");
    const missing = (await loadConfig({ file: path.join(dir, "nope.json"), env: {} }).catch(
      (e: unknown) => e,
    )) as InfuseError;
    expect(missing.code).toBe("config.unreadable");
    expect(missing.kind).toBe("not_found");
  });
});

describe("hub.endpoint", () => {
  it("takes only http(s) URLs, naming the key and the file", () => {
    expect(() => parseConfig({ hub: { endpoint: "javascript:alert(1)" } }, "infuse.config.json")).toThrow(
      'infuse.config.json: "hub.endpoint" must be an http:// or https:// URL',
    );
    expect(parseConfig({ hub: { endpoint: "http://127.0.0.1:9/" } }, "f").hub?.endpoint).toBe("http://127.0.0.1:9/");
  });
});
