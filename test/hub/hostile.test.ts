// A hub or mirror that misbehaves: names that leave the cache, redirects that would take the
// token elsewhere, bodies longer than announced, endless listings, silence, bad endpoints.
// Each case runs against a real hub-shaped server on 127.0.0.1 (test/helpers/hub-server.ts).
import { access, mkdtemp, readFile, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { InfuseError } from "../../src/core/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../../src/core/limits.js";
import { HubCache } from "../../src/hub/cache.js";
import { downloadFile } from "../../src/hub/download.js";
import { parseHubReference } from "../../src/hub/reference.js";
import { resolveModel } from "../../src/hub/resolve.js";
import { fixture } from "../helpers/fixtures.js";
import { startHubServer, type HubServer, type HubServerOptions } from "../helpers/hub-server.js";

const GGUF = fixture("models/stories260K-gguf/stories260K.gguf");
const HF = fixture("models/tinystories-656k-hf");
const REPO = "o/tiny";
const FILES = {
  "config.json": path.join(HF, "config.json"),
  "tokenizer.json": path.join(HF, "tokenizer.json"),
  "stories260K.gguf": GGUF,
};

async function tmp(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

async function configFor(server: HubServer | string, extra: { token?: string; limits?: Partial<Limits> } = {}) {
  const endpoint = typeof server === "string" ? server : server.endpoint;
  return {
    cacheDir: await tmp("infuse-hostile-"),
    hub: { endpoint, token: extra.token, offline: false },
    limits: { ...DEFAULT_LIMITS, ...extra.limits },
  };
}

async function withHub<T>(options: Partial<HubServerOptions>, use: (hub: HubServer) => Promise<T>): Promise<T> {
  const hub = await startHubServer({ repos: { [REPO]: FILES }, ...options });
  try {
    return await use(hub);
  } finally {
    await hub.close();
  }
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as InfuseError,
  );
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe("names a hub lists", () => {
  it("refuses listed names that would be written outside the cache, and writes nothing", async () => {
    const outside = await tmp("infuse-outside-");
    const climb = `${"../".repeat(24)}${outside.slice(1)}/config.json`;
    for (const name of [
      climb,
      `${outside}/config.json`,
      "sub\\..\\..\\config.json",
      "C:/x/config.json",
      "a\0/config.json",
    ]) {
      await withHub({ hostile: { extraSiblings: [name], anyFile: FILES["config.json"] } }, async (hub) => {
        const config = await configFor(hub);
        const err = await errorOf(resolveModel(`hf:${REPO}`, { config }));
        expect(err, name).toBeInstanceOf(InfuseError);
        expect(err?.code, name).toBe("hub.unsafe_path");
        expect(err?.kind).toBe("network");
        expect(err?.message).toContain(name);
        expect(hub.log.filter((l) => l.startsWith("GET /" + REPO))).toEqual([]);
      });
    }
    expect(await exists(path.join(outside, "config.json"))).toBe(false);
  });

  it("refuses bad owners, repos, revisions and file paths in a reference, naming the part", () => {
    const cases: [string, string][] = [
      ["hf:a/b@..", "the revision"],
      ["hf:a/b@../x.gguf", "the revision"],
      ["hf:a/b@.hidden", "the revision"],
      ["hf:a/b@main.lock", "the revision"],
      ["hf:a/b@a%2F..", "the revision"],
      ["hf:a/b@refs/pr/x", "the revision"],
      ["hf:a--x/b", "the owner"],
      ["hf:a/b..c", "the repository name"],
      ["hf:a/.b", "the repository name"],
      ["hf:a/b/..\\x.gguf", "the file path"],
      ["hf:a/b/C:x.gguf", "the file path"],
      ["hf:a/b/x\0.gguf", "the file path"],
      ["hf:a/b/sub//x.gguf", "the file path"],
      ["hf:a/b/./x.gguf", "the file path"],
      [`hf:a/b/${"x".repeat(300)}.gguf`, "the file path"],
    ];
    for (const [ref, part] of cases) {
      const err = (() => {
        try {
          parseHubReference(ref);
          return undefined;
        } catch (e) {
          return e as InfuseError;
        }
      })();
      expect(err?.code, ref).toBe("hub.bad_reference");
      expect(err?.kind, ref).toBe("usage");
      expect(err?.message, ref).toContain(part);
    }
    expect(parseHubReference("hf:a/b@refs/pr/1/x.gguf")).toEqual({
      repo: "a/b",
      revision: "refs/pr/1",
      file: "x.gguf",
    });
    expect(parseHubReference("hf:a/b@refs/convert/parquet")).toEqual({
      repo: "a/b",
      revision: "refs/convert/parquet",
      file: undefined,
    });
    expect(parseHubReference("hf:o_1/r.v-2@0123abcd/onnx/model.onnx").file).toBe("onnx/model.onnx");
  });

  it("keeps a pull-request revision in one folder of the cache", async () => {
    await withHub({}, async (hub) => {
      const config = await configFor(hub);
      const m = await resolveModel(`hf:${REPO}@refs/pr/1/stories260K.gguf`, { config });
      expect(m.path).toBe(path.join(config.cacheDir, "hub", "o--tiny", "refs%2Fpr%2F1", "stories260K.gguf"));
      expect(hub.log).toContain(`HEAD /${REPO}/resolve/refs/pr/1/stories260K.gguf`);
    });
  });
});

describe("the token", () => {
  it("goes to the hub, never to the storage its LFS redirect names", async () => {
    const storage = await startHubServer({ repos: { [REPO]: FILES } });
    try {
      await withHub({ token: "secret", lfsOrigin: storage.endpoint }, async (hub) => {
        const m = await resolveModel(`hf:${REPO}/stories260K.gguf`, {
          config: await configFor(hub, { token: "secret" }),
        });
        expect((await readFile(m.path)).equals(await readFile(GGUF))).toBe(true);
        expect(hub.requests.every((r) => r.authorization === "Bearer secret")).toBe(true);
        expect(storage.requests.map((r) => r.method)).toEqual(["GET"]);
        expect(storage.requests.map((r) => r.authorization)).toEqual([undefined]);
      });
    } finally {
      await storage.close();
    }
  });

  it("is not sent on a HEAD or GET that a redirect takes to another origin", async () => {
    const other = await startHubServer({ repos: { [REPO]: FILES } });
    try {
      await withHub({ token: "secret", hostile: { redirectTo: other.endpoint } }, async (hub) => {
        const config = await configFor(hub, { token: "secret" });
        const m = await resolveModel(`hf:${REPO}/stories260K.gguf`, { config });
        expect((await readFile(m.path)).equals(await readFile(GGUF))).toBe(true);
        expect(hub.requests.map((r) => r.authorization)).toEqual(["Bearer secret"]);
        expect(other.requests.map((r) => r.method).sort()).toEqual(["GET", "HEAD"]);
        expect(other.requests.map((r) => r.authorization)).toEqual([undefined, undefined]);
      });
    } finally {
      await other.close();
    }
  });
});

describe("sizes", () => {
  it("stops a body that runs past the announced size and removes the partial file", async () => {
    const extra = 64 * 1024 * 1024;
    await withHub({ hostile: { overlongBy: extra } }, async (hub) => {
      const config = await configFor(hub);
      const err = await errorOf(resolveModel(`hf:${REPO}/stories260K.gguf`, { config }));
      expect(err?.code).toBe("hub.size_mismatch");
      expect(err?.kind).toBe("network");
      const ref = parseHubReference(`hf:${REPO}/stories260K.gguf`);
      const cache = new HubCache(config.cacheDir);
      expect(await exists(cache.partPath(ref, "stories260K.gguf"))).toBe(false);
      expect(await cache.has(ref, "stories260K.gguf")).toBe(false);
      // the client hung up long before the server had sent the extra bytes
      const sent = hub.requests.find((r) => r.method === "GET")!.sent;
      expect(sent).toBeLessThan((await stat(GGUF)).size + extra / 2);
    });
  });

  it("caps every download at limits.maxDownloadBytes, announced or not, leaving no file", async () => {
    await withHub({}, async (hub) => {
      const announced = await configFor(hub, { limits: { maxDownloadBytes: 1000 } });
      const err = await errorOf(resolveModel(`hf:${REPO}/stories260K.gguf`, { config: announced }));
      expect(err).toMatchObject({ code: "hub.download_too_large", kind: "network" });
      expect(err?.hint).toContain("limits.maxDownloadBytes");
      // a body whose size nothing announced stops at the cap and its partial file is removed
      const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-cap-"));
      const part = path.join(dir, "f.part");
      const url = `${hub.endpoint}/${REPO}/resolve/main/stories260K.gguf`;
      const unknown = await errorOf(
        downloadFile(url, path.join(dir, "f"), part, { size: undefined, checksum: undefined }, { maxBytes: 64 * 1024 }),
      );
      expect(unknown).toMatchObject({ code: "hub.download_too_large" });
      expect(await exists(part)).toBe(false);
      expect(await exists(path.join(dir, "f"))).toBe(false);
    });
  });

  it("keeps the bytes of a body that ends short, and a later run resumes from them", async () => {
    const config = await withHub({ hostile: { shortBody: 1000 } }, async (hub) => {
      const config = await configFor(hub);
      const err = await errorOf(resolveModel(`hf:${REPO}/stories260K.gguf`, { config }));
      expect(err?.code).toBe("hub.connection_dropped");
      expect(err?.kind).toBe("network");
      return config;
    });
    const ref = parseHubReference(`hf:${REPO}/stories260K.gguf`);
    const kept = (await stat(new HubCache(config.cacheDir).partPath(ref, "stories260K.gguf"))).size;
    expect(kept).toBeGreaterThan(0);
    await withHub({}, async (hub) => {
      const m = await resolveModel(`hf:${REPO}/stories260K.gguf`, {
        config: { ...config, hub: { ...config.hub, endpoint: hub.endpoint } },
      });
      expect((await readFile(m.path)).equals(await readFile(GGUF))).toBe(true);
      expect(hub.log.filter((l) => l.startsWith("GET"))).toEqual([
        `GET /lfs/${REPO}/stories260K.gguf range=bytes=${kept}-`,
      ]);
    });
  });

  it("caps a listing at limits.maxListingBytes", async () => {
    await withHub({ hostile: { listingBytes: 1024 * 1024 } }, async (hub) => {
      const config = await configFor(hub, { limits: { maxListingBytes: 64 * 1024 } });
      const err = await errorOf(resolveModel(`hf:${REPO}`, { config }));
      expect(err?.code).toBe("hub.listing_too_large");
      expect(err?.kind).toBe("network");
      expect(err?.hint).toContain("limits.maxListingBytes");
      // the same listing under the default cap is fine
      const m = await resolveModel(`hf:${REPO}`, { config: await configFor(hub) });
      expect(m.files).toEqual(["config.json", "tokenizer.json"]);
    });
  });

  it("names a listing that is not JSON", async () => {
    await withHub({ hostile: { listingBody: "<html>not a hub</html>" } }, async (hub) => {
      const err = await errorOf(resolveModel(`hf:${REPO}`, { config: await configFor(hub) }));
      expect(err?.code).toBe("hub.bad_response");
      expect(err?.kind).toBe("network");
    });
  });
});

describe("silence", () => {
  const limits = { downloadTimeoutMs: 300 };

  it("times out a hub that accepts and never answers (listing and HEAD)", { timeout: 30_000 }, async () => {
    await withHub({ hostile: { silent: true } }, async (hub) => {
      for (const ref of [`hf:${REPO}`, `hf:${REPO}/stories260K.gguf`]) {
        const err = await errorOf(resolveModel(ref, { config: await configFor(hub, { limits }) }));
        expect(err?.code, ref).toBe("hub.timeout");
        expect(err?.kind).toBe("network");
        expect(err?.message).toContain(hub.endpoint);
        expect(err?.message).toContain("limits.downloadTimeoutMs");
      }
    });
  });

  it("times out a download that stops sending, keeping its bytes", { timeout: 30_000 }, async () => {
    await withHub({ hostile: { stallAfter: 4096 } }, async (hub) => {
      const config = await configFor(hub, { limits });
      const err = await errorOf(resolveModel(`hf:${REPO}/stories260K.gguf`, { config }));
      expect(err?.code).toBe("hub.timeout");
      expect(err?.message).toContain(`/lfs/${REPO}/stories260K.gguf`);
      const ref = parseHubReference(`hf:${REPO}/stories260K.gguf`);
      expect((await stat(new HubCache(config.cacheDir).partPath(ref, "stories260K.gguf"))).size).toBe(4096);
    });
  });
});

describe("endpoints", () => {
  it("accepts only http: and https: endpoints, from the config or HF_ENDPOINT", async () => {
    for (const endpoint of [
      "javascript:alert(1)",
      "file:///etc",
      "ftp://127.0.0.1",
      "http://u:p@127.0.0.1",
      "nonsense",
    ]) {
      const err = await errorOf(resolveModel(`hf:${REPO}/x.gguf`, { config: await configFor(endpoint) }));
      expect(err?.code, endpoint).toBe("hub.bad_endpoint");
      expect(err?.kind).toBe("usage");
      expect(err?.hint).toContain("hub.endpoint");
    }
    const dir = await tmp("infuse-env-");
    const config = await loadConfig({ cwd: dir, env: { HF_ENDPOINT: "javascript:alert(1)", INFUSE_CACHE: dir } });
    const err = await errorOf(resolveModel(`hf:${REPO}/x.gguf`, { config }));
    expect(err?.code).toBe("hub.bad_endpoint");
    expect(err?.hint).toContain("HF_ENDPOINT");
  });
});
