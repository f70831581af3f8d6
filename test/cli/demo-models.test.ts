// `infuse demo --models recommended`: pulls the recommended embedder, reranker and instruct GGUF
// through the hub client (a real hub-like server on 127.0.0.1 serving tiny real models under the
// recommended names) and runs the demo with them; with the hub out of reach it says so and keeps
// the embedded defaults.
import { mkdtemp, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RECOMMENDED_MODELS } from "../../src/hub/recommended.js";
import { fixture } from "../helpers/fixtures.js";
import { startHubServer, type HubServer } from "../helpers/hub-server.js";
import { mainCli } from "../helpers/main-cli.js";
import { writeTinyEncoder } from "../helpers/tiny-encoder.js";

let hub: HubServer;
const tmp = (name: string) => mkdtemp(path.join(os.tmpdir(), `infuse-demo-${name}-`));

async function folderFiles(dir: string): Promise<Record<string, string>> {
  const files = await readdir(dir, { recursive: true, withFileTypes: true });
  return Object.fromEntries(
    files
      .filter((f) => f.isFile())
      .map((f) => {
        const full = path.join(f.parentPath, f.name);
        return [path.relative(dir, full).split(path.sep).join("/"), full];
      }),
  );
}

beforeAll(async () => {
  const encoder = await folderFiles(await writeTinyEncoder(await tmp("encoder")));
  const repos: Record<string, Record<string, string>> = {};
  for (const m of RECOMMENDED_MODELS) {
    const [owner, name, ...file] = m.ref.slice("hf:".length).split("/");
    repos[`${owner}/${name}`] =
      file.length > 0 ? { [file.join("/")]: fixture("models/stories260K-gguf/stories260K.gguf") } : encoder;
  }
  hub = await startHubServer({ repos });
});
afterAll(() => hub.close());

describe("infuse demo --models recommended", () => {
  it("pulls the three recommended models and answers with them", async () => {
    const env = { INFUSE_HOME: await tmp("home"), INFUSE_CACHE: await tmp("cache"), HF_ENDPOINT: hub.endpoint };
    const r = await mainCli(["demo", "--models", "recommended", "--max-tokens", "4", "--json"], env);
    expect(r.stderr).not.toContain("offline");
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as {
      models: { offline: boolean; models: { role: string; ref: string }[] };
      answers: { question: string; answer: string }[];
    };
    expect(body.models.offline).toBe(false);
    expect(body.models.models.map((m) => m.role)).toEqual(["embedder", "reranker", "chat"]);
    expect(body.answers).toHaveLength(2);
    expect(body.answers.map((a) => (a as { mode?: string }).mode)).toEqual(["generative", "generative"]);
    const collections = await mainCli(["collections", "--json"], env);
    expect(collections.stdout).toContain("hf:Xenova/bge-small-en-v1.5");
  });

  it("offline, says so and keeps the embedded defaults", async () => {
    const env = { INFUSE_HOME: await tmp("home"), INFUSE_CACHE: await tmp("cache"), HF_ENDPOINT: "http://127.0.0.1:9" };
    const r = await mainCli(["demo", "--models", "recommended"], env);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toContain("offline: the recommended models could not be pulled");
    expect(r.stdout).toContain("Passwords must be at least 14 characters long");
  });

  it("refuses an unknown model set with a usage error", async () => {
    const r = await mainCli(["demo", "--models", "huge"], { INFUSE_HOME: await tmp("home") });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--models huge: unknown model set");
  });
});
