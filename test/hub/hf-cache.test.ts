// A Hugging Face hub cache laid out as huggingface_hub lays it out (refs/, snapshots/ with links
// into blobs/) is read before any download: offline and with no hub server at all, a file and a
// whole repo resolve there; a revision the cache lacks still needs the hub.
import { copyFile, mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.js";
import { resolveModel } from "../../src/hub/resolve.js";
import { fixture } from "../helpers/fixtures.js";
import { mainCli } from "../helpers/main-cli.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** An HF cache with `owner/name` at COMMIT (refs/main points there) holding `files` as blob links. */
async function hfCache(repo: string, files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), "infuse-hf-home-"));
  const repoDir = path.join(root, "hub", `models--${repo.replace("/", "--")}`);
  await mkdir(path.join(repoDir, "refs"), { recursive: true });
  await writeFile(path.join(repoDir, "refs", "main"), COMMIT);
  for (const [name, source] of Object.entries(files)) {
    const blob = path.join(repoDir, "blobs", `${path.basename(name)}-blob`);
    await mkdir(path.dirname(blob), { recursive: true });
    await copyFile(source, blob);
    const link = path.join(repoDir, "snapshots", COMMIT, ...name.split("/"));
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(path.relative(path.dirname(link), blob), link);
  }
  return root;
}

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const TOKENIZER = fixture("models/all-MiniLM-L6-v2-tokenizer");

describe("reusing a Hugging Face cache", () => {
  it("resolves a file and a whole repo from HF_HOME's cache, offline, without a hub", async () => {
    const home = await hfCache("acme/tiny", {
      "stories260K.gguf": STORIES,
      "config.json": path.join(TOKENIZER, "config.json"),
      "tokenizer.json": path.join(TOKENIZER, "tokenizer.json"),
    });
    const config = await loadConfig({
      env: { HF_HOME: home, INFUSE_CACHE: await mkdtemp(path.join(os.tmpdir(), "infuse-cache-")), INFUSE_OFFLINE: "1" },
    });
    const file = await resolveModel("hf:acme/tiny/stories260K.gguf", { config });
    expect(file.kind).toBe("gguf");
    expect(file.path).toBe(path.join(home, "hub", "models--acme--tiny", "snapshots", COMMIT, "stories260K.gguf"));
    const folder = await resolveModel("hf:acme/tiny", { config });
    expect(folder).toMatchObject({ kind: "folder", files: ["config.json", "tokenizer.json"] });
    // a revision the cache does not hold is not taken from it
    await expect(resolveModel("hf:acme/tiny@v2/stories260K.gguf", { config })).rejects.toMatchObject({
      code: "hub.offline_missing",
    });
  });

  it("lets `infuse inspect hf:…` read the cached GGUF (HF_HUB_CACHE names the cache itself)", async () => {
    const home = await hfCache("acme/tiny", { "stories260K.gguf": STORIES });
    const r = await mainCli(["inspect", "hf:acme/tiny/stories260K.gguf", "--json"], {
      HF_HUB_CACHE: path.join(home, "hub"),
      INFUSE_CACHE: await mkdtemp(path.join(os.tmpdir(), "infuse-cache-")),
      INFUSE_OFFLINE: "1",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"architecture":"llama"');
  });
});
