// A real server for the server tests: infuse's config in a temp folder, stories260K as an engine chat
// model, a tiny ONNX encoder and the hashing embedder, on 127.0.0.1 with a port the OS picks.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig, type ResolvedConfig } from "../../src/core/config.js";
import { startServer, type RunningServer, type StartServerOptions } from "../../src/server/server.js";
import { fixture } from "../helpers/fixtures.js";
import { writeTinyEncoder } from "../helpers/tiny-encoder.js";

export const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
export const CHAT_MODEL = `engine:${STORIES}`;

export interface TestServer extends RunningServer {
  dir: string;
  encoder: string;
  config: ResolvedConfig;
}

export async function testServer(
  options: Record<string, unknown> = {},
  extra: Partial<StartServerOptions> & { configFile?: Record<string, unknown> } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "infuse-serve-test-"));
  const encoder = await writeTinyEncoder(path.join(dir, "encoder"));
  const { configFile, ...start } = extra;
  if (configFile) writeFileSync(path.join(dir, "infuse.config.json"), JSON.stringify(configFile));
  const config = await loadConfig({
    cwd: dir,
    env: { INFUSE_HOME: path.join(dir, "home"), INFUSE_CACHE: path.join(dir, "cache"), INFUSE_OFFLINE: "1" },
  });
  const server = await startServer({
    config,
    options: { port: 0, models: [CHAT_MODEL], embedders: [encoder, "hash"], ...options },
    env: {},
    log: () => undefined,
    ...start,
  });
  return { ...server, dir, encoder, config };
}

/** A job as /api/jobs returns it (the fields tests read). */
export interface ApiJob {
  id: string;
  kind: string;
  status: string;
  result?: Record<string, unknown>;
  error?: Record<string, unknown>;
}

/** Reads a job's SSE events until the stream ends: the event types, and the last status's job. */
export async function followJobEvents(baseUrl: string, id: string): Promise<{ types: string[]; last: ApiJob }> {
  const res = await fetch(`${baseUrl}/api/jobs/${id}/events`);
  if (!(res.headers.get("content-type") ?? "").includes("text/event-stream"))
    throw new Error(`/api/jobs/${id}/events is not an event stream`);
  const text = await res.text(); // the stream ends when the job has finished
  const events = text
    .split("\n\n")
    .filter((b) => b.includes("data:"))
    .map((b) => ({
      type: /^event: (.*)$/m.exec(b)?.[1] ?? "",
      data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) as { job?: ApiJob },
    }));
  const statuses = events.filter((e) => e.type === "status");
  return { types: events.map((e) => e.type), last: statuses.at(-1)!.data.job! };
}
