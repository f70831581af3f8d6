// /api/models/recommended on a real server: which recommended models are in the cache, and a pull
// job that downloads the chosen ones from a hub-like server on 127.0.0.1 (tiny real models under
// the recommended names); a ref that is not recommended is refused naming the field.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { RECOMMENDED_MODELS } from "../../src/hub/recommended.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { fixture } from "../helpers/fixtures.js";
import { startHubServer, type HubServer } from "../helpers/hub-server.js";

let hub: HubServer;
let server: RunningServer;

beforeAll(async () => {
  const repos: Record<string, Record<string, string>> = {};
  for (const m of RECOMMENDED_MODELS) {
    const [owner, name, ...file] = m.ref.slice("hf:".length).split("/");
    // the embedder and reranker repos hold any file: only the chat GGUF is pulled by these tests
    repos[`${owner}/${name}`] = {
      [file.length > 0 ? file.join("/") : "model.gguf"]: fixture("models/stories260K-gguf/stories260K.gguf"),
    };
  }
  hub = await startHubServer({ repos });
  const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-serve-models-"));
  const config = await loadConfig({
    cwd: dir,
    env: { INFUSE_HOME: path.join(dir, "home"), INFUSE_CACHE: path.join(dir, "cache"), HF_ENDPOINT: hub.endpoint },
  });
  server = await startServer({ config, options: { port: 0, embedders: ["hash"] }, env: {}, log: () => undefined });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await hub?.close();
});

interface Listing {
  online?: boolean;
  models: { role: string; ref: string; installed: boolean }[];
}
const api = (route: string, init?: RequestInit) => fetch(`${server.url}${route}`, init);
const post = (body: unknown) =>
  api("/api/models/recommended", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("/api/models/recommended", () => {
  it("lists the recommended models as not installed, pulls one as a job, then lists it installed", async () => {
    const before = (await (await api("/api/models/recommended")).json()) as Listing;
    expect(before.online).toBeUndefined();
    expect(before.models.map((m) => [m.role, m.installed])).toEqual([
      ["embedder", false],
      ["reranker", false],
      ["chat", false],
    ]);
    const chat = RECOMMENDED_MODELS.find((m) => m.role === "chat")!.ref;
    const res = await post({ refs: [chat] });
    expect(res.status).toBe(202);
    const { job_id: id } = (await res.json()) as { job_id: string };
    await (await api(`/api/jobs/${id}/events`)).text(); // the stream ends when the job does
    const job = (await (await api(`/api/jobs/${id}`)).json()) as {
      status: string;
      result: { offline: boolean; models: { ref: string; path: string }[] };
    };
    expect(job.status).toBe("done");
    expect(job.result.offline).toBe(false);
    expect(job.result.models.map((m) => m.ref)).toEqual([chat]);
    const after = (await (await api("/api/models/recommended")).json()) as Listing;
    expect(after.models.find((m) => m.ref === chat)?.installed).toBe(true);
  });

  it("refuses a model that is not recommended, naming the field", async () => {
    const res = await post({ refs: ["hf:someone/anything"] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("refs[0]");
  });
});
