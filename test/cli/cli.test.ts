import type { ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fixture } from "../helpers/fixtures.js";
import { runCli } from "../helpers/cli.js";
import { startHubServer } from "../helpers/hub-server.js";

const tmp = () => mkdtemp(path.join(os.tmpdir(), "infuse-cli-"));

describe("infuse CLI", () => {
  it("prints help listing its commands, and the version", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of [
      "doctor",
      "pull",
      "inspect",
      "generate",
      "tune",
      "ingest",
      "ask",
      "chat",
      "collections",
      "demo",
      "eval",
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    const version = await runCli(["--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const pullHelp = await runCli(["pull", "--help"]);
    expect(pullHelp.stdout).toContain("Examples:");
  });

  it("exits 2 on a usage mistake, without a stack trace", async () => {
    const r = await runCli(["doctor", "--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("names the bad key and file of infuse.config.json", async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, "infuse.config.json"), JSON.stringify({ hub: { endpiont: "x" } }));
    const r = await runCli(["doctor"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${path.join(dir, "infuse.config.json")}: unknown key "hub.endpiont"`);
    expect(r.stderr).toContain("hint:");
    const json = await runCli(["doctor", "--json"], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ error: "config.unknown_key", kind: "usage" });
  });

  it("doctor reports the native parts and folders as JSON", async () => {
    const cache = await tmp();
    const r = await runCli(["doctor", "--json"], { env: { INFUSE_CACHE: cache } });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.native.map((n: { name: string }) => n.name)).toEqual([
      "onnxruntime-node",
      "node-llama-cpp",
      "@lancedb/lancedb",
    ]);
    expect(report.cache.dir).toBe(cache);
  });

  it("pull downloads from HF_ENDPOINT into INFUSE_CACHE and exits 4 on a missing file", async () => {
    const hub = await startHubServer({
      repos: { "o/m": { "m.gguf": fixture("models/stories260K-gguf/stories260K.gguf") } },
    });
    const cache = await tmp();
    const env = { HF_ENDPOINT: hub.endpoint, INFUSE_CACHE: cache };
    const ok = await runCli(["pull", "hf:o/m/m.gguf", "--json"], { env });
    const missing = await runCli(["pull", "hf:o/m/other.gguf"], { env });
    await hub.close();
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      kind: "gguf",
      path: path.join(cache, "hub", "o--m", "main", "m.gguf"),
    });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("HTTP 404");
  });

  it("stops cleanly on Ctrl-C with exit code 130", async () => {
    // a server that sends headers and a trickle of bytes, never the whole file; once the
    // download is under way (the CLI's handlers are installed by then) the CLI gets SIGINT
    let child: ChildProcess | undefined;
    const server = http.createServer((req, res) => {
      res.writeHead(200, { "content-length": "100000000" });
      if (req.method === "HEAD") return void res.end();
      const timer = setInterval(() => res.write(Buffer.alloc(1024)), 20);
      setTimeout(() => child?.kill("SIGINT"), 300);
      res.on("close", () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await runCli(["pull", "hf:o/m/big.gguf"], {
      env: { HF_ENDPOINT: endpoint, INFUSE_CACHE: await tmp() },
      onSpawn: (c) => (child = c),
    });
    server.closeAllConnections();
    server.close();
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("cancelled");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
