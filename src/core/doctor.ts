// `infuse doctor`: what this machine gives infuse — the runtime, the native parts that
// load (onnxruntime-node, llama.cpp through node-llama-cpp, LanceDB), and where data lives.
import { createRequire } from "node:module";
import os from "node:os";
import { existsSync, readFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "./config.js";
import { VERSION } from "./version.js";

export interface NativePart {
  name: string;
  version: string | undefined;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  infuse: string;
  runtime: { node: string; platform: string; arch: string; cpus: number; memoryGiB: number };
  native: NativePart[];
  config: { file: string | undefined };
  cache: { dir: string; exists: boolean; bytes: number; files: number };
  data: { dir: string; exists: boolean };
  hub: { endpoint: string; token: boolean; offline: boolean };
  ok: boolean;
}

const require = createRequire(import.meta.url);

/** The installed version of a package, found by walking up from its entry point. */
function packageVersion(name: string): string | undefined {
  try {
    let dir = path.dirname(require.resolve(name));
    while (dir !== path.dirname(dir)) {
      const file = path.join(dir, "package.json");
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version;
      }
      dir = path.dirname(dir);
    }
  } catch {
    // not installed
  }
  return undefined;
}

async function check(name: string, probe: () => Promise<string>): Promise<NativePart> {
  const version = packageVersion(name);
  try {
    return { name, version, ok: true, detail: await probe() };
  } catch (e) {
    return { name, version, ok: false, detail: e instanceof Error ? e.message.split("\n")[0]! : String(e) };
  }
}

async function folderSize(dir: string): Promise<{ exists: boolean; bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) {
        bytes += (await stat(p)).size;
        files++;
      }
    }
  };
  try {
    await walk(dir);
    return { exists: true, bytes, files };
  } catch {
    return { exists: false, bytes: 0, files: 0 };
  }
}

export async function runDoctor(config: ResolvedConfig): Promise<DoctorReport> {
  const native = [
    await check("onnxruntime-node", async () => {
      const ort = await import("onnxruntime-node");
      const backends = ort.env.versions ? Object.keys(ort.env.versions).join(", ") : "";
      return `CPU execution provider loaded${backends ? ` (${backends})` : ""}`;
    }),
    await check("node-llama-cpp", async () => {
      const { getLlama } = await import("node-llama-cpp");
      const llama = await getLlama({ gpu: false, build: "never", progressLogs: false, logLevel: "error" as never });
      const detail = `llama.cpp ${llama.llamaCppRelease.release} (${llama.buildType} binary), ${llama.cpuMathCores} math cores`;
      await llama.dispose();
      return detail;
    }),
    await check("@lancedb/lancedb", async () => {
      const lancedb = await import("@lancedb/lancedb");
      const db = await lancedb.connect("memory://");
      await db.tableNames();
      return "embedded store opens";
    }),
  ];
  const cache = await folderSize(config.cacheDir);
  const data = await folderSize(config.dataDir);
  return {
    infuse: VERSION,
    runtime: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus: os.availableParallelism(),
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    },
    native,
    config: { file: config.file },
    cache: { dir: config.cacheDir, ...cache },
    data: { dir: config.dataDir, exists: data.exists },
    hub: { endpoint: config.hub.endpoint, token: config.hub.token !== undefined, offline: config.hub.offline },
    ok: native.every((n) => n.ok),
  };
}
