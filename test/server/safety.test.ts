// Safe by default: Bearer auth off loopback (constant-time compare, every route), CORS only for named
// origins, body limits from limits.*, option errors naming the flag, the UI folder never escaped, and
// the CLI command wiring flags, config and INFUSE_API_KEY into a real child-process server.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { isInfuseError } from "../../src/core/errors.js";
import { sameKey } from "../../src/server/app.js";
import { parseServeOptions } from "../../src/server/options.js";
import { runCli } from "../helpers/cli.js";
import { testServer, type TestServer } from "./helpers.js";

const servers: TestServer[] = [];
async function start(...args: Parameters<typeof testServer>): Promise<TestServer> {
  const s = await testServer(...args);
  servers.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const local = (s: TestServer, route: string, init?: RequestInit) => fetch(`http://127.0.0.1:${s.port}${route}`, init);

describe("auth", () => {
  it("a non-loopback host without a key is refused at start", async () => {
    const e = await testServer({ host: "0.0.0.0" }).catch((x: unknown) => x);
    expect(isInfuseError(e) && e.code).toBe("serve.needs_api_key");
  });

  it("with a key, every route wants it as a Bearer token", async () => {
    const s = await start({ host: "0.0.0.0", apiKey: "s3cret-key" });
    for (const route of ["/v1/models", "/api/collections", "/api/jobs", "/openapi.json"]) {
      const none = await local(s, route);
      expect(none.status).toBe(401);
      const body = (await none.json()) as { error: { type: string; code: string } };
      expect(body.error).toMatchObject({ type: "authentication_error", code: "invalid_api_key" });
      expect((await local(s, route, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
      expect((await local(s, route, { headers: { authorization: "Bearer s3cret-key" } })).status).toBe(200);
    }
    // the UI's static shell loads without the key (a browser cannot send one for a page); its data cannot
    expect((await local(s, "/")).status).toBe(200);
    expect((await local(s, "/api/collections", { method: "DELETE" })).status).toBe(401);
    const wrong = new OpenAI({ baseURL: `http://127.0.0.1:${s.port}/v1`, apiKey: "nope", maxRetries: 0 });
    expect(await wrong.models.list().catch((x: unknown) => x)).toBeInstanceOf(OpenAI.AuthenticationError);
    const right = new OpenAI({ baseURL: `http://127.0.0.1:${s.port}/v1`, apiKey: "s3cret-key", maxRetries: 0 });
    expect((await right.models.list()).data.length).toBeGreaterThan(0);
  });

  it("INFUSE_API_KEY sets the key", async () => {
    const s = await start({}, { env: { INFUSE_API_KEY: "from-env" } });
    expect((await local(s, "/v1/models")).status).toBe(401);
    expect((await local(s, "/v1/models", { headers: { authorization: "Bearer from-env" } })).status).toBe(200);
  });

  it("compares keys whatever their lengths", () => {
    expect(sameKey("abc", "abc")).toBe(true);
    expect(sameKey("abc", "abcd")).toBe(false);
    expect(sameKey("", "x")).toBe(false);
  });
});

describe("CORS", () => {
  const preflight = (s: TestServer, origin: string) =>
    local(s, "/v1/models", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });

  it("is off unless origins are named", async () => {
    const off = await start();
    const r = await local(off, "/v1/models", { headers: { origin: "https://evil.example" } });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    expect((await preflight(off, "https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows only the named origins, preflights without the key", async () => {
    const s = await start({ cors: ["https://app.example"], apiKey: "k" });
    const ok = await preflight(s, "https://app.example");
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    const other = await preflight(s, "https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).not.toBe("https://evil.example");
  });
});

describe("limits and options", () => {
  it("a body over limits.maxRequestBytes is a 413 naming the limit", async () => {
    const s = await start({}, { configFile: { limits: { maxRequestBytes: 2000 } } });
    const r = await local(s, "/v1/embeddings", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "hash", input: "x".repeat(5000) }),
    });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain("limits.maxRequestBytes");
  });

  it("a bad option names its flag", () => {
    const e = (() => {
      try {
        return parseServeOptions({ port: 70000 });
      } catch (x) {
        return x;
      }
    })();
    expect(isInfuseError(e) && e.hint).toContain("--port");
    expect(() => parseServeOptions({ prot: 1 })).toThrow(/prot/);
  });
});

describe("web UI and OpenAPI", () => {
  it("says the UI is not built, or serves dist/web, never a file outside it", async () => {
    const missing = await start({}, { webUiDir: path.join(os.tmpdir(), "no-such-infuse-ui") });
    expect(await (await local(missing, "/")).text()).toContain("npm run build");
    const ui = mkdtempSync(path.join(os.tmpdir(), "infuse-ui-"));
    mkdirSync(path.join(ui, "assets"));
    writeFileSync(path.join(ui, "index.html"), "<!doctype html><title>built ui</title>");
    writeFileSync(path.join(ui, "assets", "app.js"), "console.log(1)");
    writeFileSync(path.join(os.tmpdir(), "infuse-secret.txt"), "secret");
    const s = await start({}, { webUiDir: ui });
    expect(await (await local(s, "/")).text()).toContain("built ui");
    const js = await local(s, "/assets/app.js");
    expect(js.headers.get("content-type")).toContain("javascript");
    expect((await local(s, "/assets/..%2f..%2finfuse-secret.txt")).status).toBe(404);
    const spec = (await (await local(s, "/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(spec.openapi).toBe("3.1.0");
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        "/v1/chat/completions",
        "/v1/embeddings",
        "/api/collections/{name}/documents",
        "/api/jobs/{id}/events",
      ]),
    );
  });
});

describe("infuse serve (CLI)", () => {
  it("takes the config's serve section under its flags and stops on Ctrl-C", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "infuse-serve-cli-"));
    writeFileSync(path.join(dir, "infuse.config.json"), JSON.stringify({ serve: { host: "0.0.0.0" } }));
    const env = { INFUSE_HOME: path.join(dir, "home"), INFUSE_OFFLINE: "1", INFUSE_API_KEY: "" };
    let url = "";
    const run = await runCli(["--json", "serve", "--port", "0", "--api-key", "k", "--embedder", "hash"], {
      cwd: dir,
      env,
      onSpawn: (child) =>
        child.stdout!.on("data", (d: Buffer) => {
          const m = /"url":"([^"]+)"/.exec(d.toString());
          if (!m || url) return;
          url = m[1]!; // the config's host, 0.0.0.0
          const at = url.replace("0.0.0.0", "127.0.0.1");
          void fetch(`${at}/v1/models`, { headers: { authorization: "Bearer k" } })
            .then(async (r) => {
              expect(((await r.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(["hash"]);
            })
            .finally(() => child.kill("SIGINT"));
        }),
    });
    expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    expect(run.code).toBe(0);
  }, 30_000);
});
