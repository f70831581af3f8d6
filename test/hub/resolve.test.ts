import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { access, chmod, mkdir, mkdtemp, readFile, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import type { ProgressEvent } from "../../src/core/progress.js";
import { HubCache } from "../../src/hub/cache.js";
import { parseHubReference } from "../../src/hub/reference.js";
import { resolveModel, selectModelFiles } from "../../src/hub/resolve.js";
import { fixture } from "../helpers/fixtures.js";
import { startHubServer, type HubServer } from "../helpers/hub-server.js";

const GGUF = fixture("models/stories260K-gguf/stories260K.gguf");
const HF = fixture("models/tinystories-656k-hf");
const REPO = "karpathy/tinyllamas";

let hub: HubServer;

beforeAll(async () => {
  hub = await startHubServer({
    repos: {
      [REPO]: { "stories260K.gguf": GGUF, "README.md": fixture("models/tinystories-656k-hf/config.json") },
      "raincandy-u/TinyStories-656K": {
        "config.json": path.join(HF, "config.json"),
        "generation_config.json": path.join(HF, "generation_config.json"),
        "model.safetensors": path.join(HF, "model.safetensors"),
        "tokenizer.json": path.join(HF, "tokenizer.json"),
        "tokenizer_config.json": path.join(HF, "tokenizer_config.json"),
        "special_tokens_map.json": path.join(HF, "special_tokens_map.json"),
      },
    },
  });
});
afterAll(() => hub.close());

async function freshConfig(endpoint = hub.endpoint, extra: { offline?: boolean; token?: string } = {}) {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), "infuse-cache-"));
  return { cacheDir, hub: { endpoint, token: extra.token, offline: extra.offline ?? false } };
}

const sha256 = async (p: string) =>
  createHash("sha256")
    .update(await readFile(p))
    .digest("hex");
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as InfuseError,
  );

describe("hub references", () => {
  it("parses owner/repo, revision and file", () => {
    expect(parseHubReference("hf:a/b")).toEqual({ repo: "a/b", revision: "main", file: undefined });
    expect(parseHubReference("hf:a/b@v1.0/sub/x.gguf")).toEqual({ repo: "a/b", revision: "v1.0", file: "sub/x.gguf" });
    for (const bad of ["hf:a", "hf:/b", "hf:a/b/../x", "hf:a/b@/x", "hf:a b/c"]) {
      expect(() => parseHubReference(bad), bad).toThrow(InfuseError);
    }
  });

  it("picks the files a model needs and one ONNX variant", () => {
    expect(
      selectModelFiles([
        "README.md",
        "config.json",
        "onnx/model.onnx",
        "onnx/model_quantized.onnx",
        "pytorch_model.bin",
        "tokenizer.json",
      ]),
    ).toEqual(["config.json", "onnx/model.onnx", "tokenizer.json"]);
  });
});

describe("resolveModel from the hub", () => {
  it("downloads a GGUF through the LFS redirect, verifies it, and reuses the cache", async () => {
    const config = await freshConfig();
    const events: ProgressEvent[] = [];
    const m = await resolveModel(`hf:${REPO}/stories260K.gguf`, { config, onProgress: (e) => events.push(e) });
    expect(m.kind).toBe("gguf");
    expect(await sha256(m.path)).toBe(await sha256(GGUF));
    expect(events.at(-1)).toMatchObject({
      done: (await stat(GGUF)).size,
      total: (await stat(GGUF)).size,
      unit: "bytes",
    });
    const gets = hub.log.filter((l) => l.startsWith("GET")).length;
    const again = await resolveModel(`hf:${REPO}/stories260K.gguf`, { config });
    expect(again.path).toBe(m.path);
    expect(hub.log.filter((l) => l.startsWith("GET")).length).toBe(gets);
  });

  it("downloads the model files of a whole repo into one folder", async () => {
    const config = await freshConfig();
    const m = await resolveModel("hf:raincandy-u/TinyStories-656K", { config });
    expect(m.kind).toBe("folder");
    expect(m.files).toContain("model.safetensors");
    expect(await sha256(path.join(m.path, "model.safetensors"))).toBe(await sha256(path.join(HF, "model.safetensors")));
    // offline afterwards: the manifest says the folder is complete
    const offline = await resolveModel("hf:raincandy-u/TinyStories-656K", {
      config: { ...config, hub: { ...config.hub, offline: true } },
    });
    expect(offline.path).toBe(m.path);
  });

  it("resumes after the connection drops mid-file", async () => {
    const config = await freshConfig();
    hub.dropAfter("stories260K.gguf", 300_000);
    const before = hub.log.length;
    const m = await resolveModel(`hf:${REPO}/stories260K.gguf`, { config });
    expect(await sha256(m.path)).toBe(await sha256(GGUF));
    // the retry asks only for the bytes it lacks (how many arrived before the cut depends on the socket)
    const resumed = hub.log
      .slice(before)
      .map((l) => /range=bytes=(\d+)-/.exec(l)?.[1])
      .filter((x) => x !== undefined);
    expect(resumed.length).toBe(1);
    expect(Number(resumed[0])).toBeGreaterThan(0);
  });

  it("continues a partial file left by an earlier run", async () => {
    const config = await freshConfig();
    const ref = parseHubReference(`hf:${REPO}/stories260K.gguf`);
    const part = new HubCache(config.cacheDir).partPath(ref, "stories260K.gguf");
    await mkdir(path.dirname(part), { recursive: true });
    await writeFile(part, (await readFile(GGUF)).subarray(0, 123_456));
    const before = hub.log.length;
    const m = await resolveModel(`hf:${REPO}/stories260K.gguf`, { config });
    expect(await sha256(m.path)).toBe(await sha256(GGUF));
    expect(hub.log.slice(before).filter((l) => l.startsWith("GET"))).toEqual([
      `GET /lfs/${REPO}/stories260K.gguf range=bytes=123456-`,
    ]);
  });

  it("stops on an aborted signal and keeps the partial bytes", async () => {
    const config = await freshConfig();
    const controller = new AbortController();
    const err = await errorOf(
      resolveModel(`hf:${REPO}/stories260K.gguf`, {
        config,
        signal: controller.signal,
        onProgress: (e) => e.done > 0 && controller.abort(),
      }),
    );
    expect(err).toBeInstanceOf(InfuseError);
    expect(err?.kind).toBe("cancelled");
  });

  it("fails clearly on a 404", async () => {
    const err = await errorOf(resolveModel(`hf:${REPO}/nope.gguf`, { config: await freshConfig() }));
    expect(err?.code).toBe("hub.not_found");
    expect(err?.kind).toBe("not_found");
    expect(err?.message).toContain("nope.gguf");
  });

  it("rejects a corrupt download and leaves nothing in the cache", async () => {
    const server = await startHubServer({ repos: { [REPO]: { "stories260K.gguf": GGUF } } });
    server.corrupt("stories260K.gguf");
    const config = await freshConfig(server.endpoint);
    const err = await errorOf(resolveModel(`hf:${REPO}/stories260K.gguf`, { config }));
    await server.close();
    expect(err?.code).toBe("hub.checksum_mismatch");
    const ref = parseHubReference(`hf:${REPO}/stories260K.gguf`);
    const cache = new HubCache(config.cacheDir);
    expect(await cache.has(ref, "stories260K.gguf")).toBe(false);
    await expect(access(cache.partPath(ref, "stories260K.gguf"))).rejects.toThrow();
  });

  it("reports a full disk as an io error naming the file", async () => {
    const config = await freshConfig();
    const ref = parseHubReference(`hf:${REPO}/stories260K.gguf`);
    const part = new HubCache(config.cacheDir).partPath(ref, "stories260K.gguf");
    await mkdir(path.dirname(part), { recursive: true });
    await symlink("/dev/full", part); // every write fails with ENOSPC, as on a full disk
    const err = await errorOf(resolveModel(`hf:${REPO}/stories260K.gguf`, { config }));
    expect(err?.code).toBe("io.disk_full");
    expect(err?.kind).toBe("io");
    expect(err?.message).toContain("disk is full");
    expect(err?.hint).toContain("INFUSE_CACHE");
  });

  it("reports a read-only cache folder as an io error", async () => {
    // root ignores permission bits, so as root the folder is made immutable (chattr +i)
    const readOnly = await mkdtemp(path.join(os.tmpdir(), "infuse-ro-"));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync("chattr", ["+i", readOnly]);
    else await chmod(readOnly, 0o555);
    try {
      const config = await freshConfig();
      const err = await errorOf(
        resolveModel(`hf:${REPO}/stories260K.gguf`, { config: { ...config, cacheDir: path.join(readOnly, "cache") } }),
      );
      expect(err?.code).toMatch(/^io\.(permission_denied|read_only)$/);
      expect(err?.kind).toBe("io");
      expect(err?.hint).toContain("INFUSE_CACHE");
    } finally {
      if (asRoot) execFileSync("chattr", ["-i", readOnly]);
      else await chmod(readOnly, 0o755);
    }
  });

  it("sends HF_TOKEN and explains a 401", async () => {
    const server = await startHubServer({ repos: { [REPO]: { "stories260K.gguf": GGUF } }, token: "secret" });
    const denied = await errorOf(
      resolveModel(`hf:${REPO}/stories260K.gguf`, { config: await freshConfig(server.endpoint) }),
    );
    const ok = await resolveModel(`hf:${REPO}/stories260K.gguf`, {
      config: await freshConfig(server.endpoint, { token: "secret" }),
    });
    await server.close();
    expect(denied?.code).toBe("hub.unauthorized");
    expect(denied?.hint).toContain("HF_TOKEN");
    expect(ok.kind).toBe("gguf");
  });

  it("offline or unreachable: says how to get a model that is not cached", async () => {
    const offline = await errorOf(
      resolveModel(`hf:${REPO}/stories260K.gguf`, { config: await freshConfig(hub.endpoint, { offline: true }) }),
    );
    expect(offline?.code).toBe("hub.offline_missing");
    expect(offline?.hint).toContain(`infuse pull hf:${REPO}/stories260K.gguf`);
    const unreachable = await errorOf(
      resolveModel(`hf:${REPO}/stories260K.gguf`, { config: await freshConfig("http://127.0.0.1:9") }),
    );
    expect(unreachable?.code).toBe("hub.offline_missing");
  });
});

describe("resolveModel from local paths", () => {
  it("accepts a GGUF file and a model folder", async () => {
    expect(await resolveModel(GGUF, { config: await freshConfig() })).toMatchObject({ kind: "gguf", path: GGUF });
    const folder = await resolveModel(HF, { config: await freshConfig() });
    expect(folder.kind).toBe("folder");
    expect(folder.files).toContain("tokenizer.json");
  });

  it("explains a missing path, a non-model file and an empty folder", async () => {
    const config = await freshConfig();
    expect((await errorOf(resolveModel("/no/such/model", { config })))?.code).toBe("model.not_found");
    expect((await errorOf(resolveModel(path.join(HF, "config.json"), { config })))?.code).toBe("model.unknown_format");
    expect((await errorOf(resolveModel(os.tmpdir() + "/" + path.basename(config.cacheDir), { config })))?.code).toBe(
      "model.empty_folder",
    );
  });
});
