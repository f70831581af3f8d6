// `infuse ask` with recipe flags, a recipe file and the config's rag.retrieval, as a user runs it
// (the real CLI's main() in this process): --json shows the recipe run and every stage, and
// `--rerank llm` reranks with a real chat model (stories260K) behind an OpenAI-compatible server.
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mainCli } from "../helpers/main-cli.js";
import { resolveChatModel } from "../../src/rag/pipeline/models.js";
import type { ChatModel } from "../../src/rag/types.js";
import { fixture } from "../helpers/fixtures.js";
import { startModelServer, type ModelServer } from "../helpers/model-server.js";
import { makeRecipeCollections } from "./helpers/recipe-docs.js";

const runCli = mainCli;

interface AskJson {
  answer: string;
  retriever: string;
  recipe: Record<string, unknown>;
  stages: {
    stage: string;
    name: string;
    ms: number;
    input?: number;
    output: number;
    details?: Record<string, unknown>;
  }[];
  sources: { source: string }[];
}

describe("infuse ask with a retrieval recipe", () => {
  let home: string;
  let stories: ChatModel;
  let server: ModelServer;

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "infuse-recipe-cli-"));
    await makeRecipeCollections(home);
    const config = {
      file: undefined,
      cacheDir: path.join(home, "cache"),
      dataDir: home,
      hub: { endpoint: "http://127.0.0.1:9", token: undefined, offline: true },
      rag: {},
    };
    stories = (await resolveChatModel(fixture("models/stories260K-gguf/stories260K.gguf"), { config })).model!;
    server = await startModelServer({ chat: stories, models: ["stories"] });
  });
  afterAll(async () => {
    await server?.close();
    await stories?.dispose?.();
  });

  it("--mode hybrid --expand rm3 --mmr 0.5 --compress --json shows the recipe and each stage", async () => {
    const q = "When does the fuel dock open?";
    const r = await runCli(
      [
        "ask",
        q,
        "--collection",
        "harbour",
        "--mode",
        "hybrid",
        "--expand",
        "rm3",
        "--mmr",
        "0.5",
        "--compress",
        "--window",
        "1",
        "-k",
        "2",
        "--no-llm",
        "--json",
      ],
      { INFUSE_HOME: home },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as AskJson;
    expect(json.retriever).toBe("hybrid+rm3+mmr+window1+compress");
    expect(json.recipe).toEqual({
      retriever: { mode: "hybrid", fusion: "rrf" },
      expansion: { kind: "rm3", fb_docs: 10, fb_terms: 10, original_weight: 0.5 },
      mmr: { lambda: 0.5 },
      window: 1,
      compression: { kind: "embedding", threshold: 0.2 },
      top_k: 2,
    });
    expect(json.stages.map((s) => s.stage)).toEqual(["retrieve", "expand", "mmr", "window", "compress", "generate"]);
    const compress = json.stages.find((s) => s.stage === "compress")!;
    expect(compress.details!["tokens_saved"]).toBeGreaterThan(0);
    expect(json.stages.at(-1)).toMatchObject({ name: "extractive", details: { prompt_chars: 0 } });
    expect(json.answer).toContain("06:00");
  });

  it("--rerank llm reranks with the answering model over an OpenAI-compatible server", async () => {
    const before = server.requests.length;
    const r = await runCli(
      [
        "ask",
        "Where do visitors moor?",
        "--collection",
        "harbour",
        "--rerank",
        "llm",
        "--rerank-top",
        "3",
        "-k",
        "2",
        "--llm",
        "openai:stories",
        "--max-tokens",
        "4",
        "--json",
        "--no-log",
      ],
      { INFUSE_HOME: home, OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: "sk-test" },
    );
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as AskJson;
    expect(json.recipe).toMatchObject({ retriever: { mode: "bm25" }, reranker: { kind: "llm", top: 3 }, top_k: 2 });
    const rerank = json.stages.find((s) => s.stage === "rerank")!;
    expect(rerank.name).toBe(`llm:openai:stories@${server.url}/v1`);
    expect(rerank.output).toBe(Math.min(2, rerank.input!));
    // one relevance prompt per candidate, then the answer
    const prompts = server.requests.slice(before).map((q) => JSON.stringify(q.body));
    expect(prompts.filter((p) => p.includes("Relevance (0-10)"))).toHaveLength(rerank.input!);
    expect(json.stages.at(-1)!.stage).toBe("generate");
  });

  it("layers rag.retrieval < --recipe FILE < flags, and names the file and key of a bad recipe", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-recipe-cfg-"));
    const config = path.join(dir, "infuse.config.json");
    await writeFile(config, JSON.stringify({ rag: { retrieval: { mmr: { lambda: 0.3 }, top_k: 3, window: 1 } } }));
    const recipe = path.join(dir, "recipe.json");
    await writeFile(recipe, JSON.stringify({ window: "parent", top_k: 1 }));
    const r = await runCli(
      [
        "-c",
        config,
        "ask",
        "fuel",
        "--collection",
        "harbour",
        "--recipe",
        recipe,
        "--mmr",
        "0.9",
        "--no-llm",
        "--json",
      ],
      { INFUSE_HOME: home },
    );
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as AskJson).recipe).toEqual({
      retriever: { mode: "bm25" },
      mmr: { lambda: 0.9 },
      window: "parent",
      top_k: 1,
    });

    await writeFile(recipe, JSON.stringify({ reranker: { kind: "llm", topp: 3 } }));
    const bad = await runCli(["ask", "fuel", "--collection", "harbour", "--recipe", recipe, "--no-llm"], {
      INFUSE_HOME: home,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${recipe}: "reranker.topp" is not a recipe key`);

    const fused = await runCli(
      [
        "ask",
        "when are roses pruned and when does the fuel dock open",
        "--collection",
        "harbour,garden",
        "--no-llm",
        "--json",
      ],
      { INFUSE_HOME: home },
    );
    expect(fused.code).toBe(0);
    const f = JSON.parse(fused.stdout) as AskJson;
    expect(f.recipe["collections"]).toEqual({ names: ["harbour", "garden"], combine: "fuse" });
    expect(new Set(f.sources.map((x) => x.source))).toEqual(new Set(["harbour.md", "garden.md"]));

    const descriptions = { harbour: "boats, moorings and the fuel dock", garden: "plants: roses, tomatoes, lettuce" };
    await writeFile(recipe, JSON.stringify({ collections: { names: ["harbour", "garden"], descriptions } }));
    const routed = await runCli(["ask", "how do I prune roses", "--recipe", recipe, "--route", "--no-llm", "--json"], {
      INFUSE_HOME: home,
    });
    expect(routed.stderr).toBe("");
    const m = JSON.parse(routed.stdout) as AskJson;
    expect(m.stages[0]!.details!["collections"]).toEqual(["garden"]);
    expect(m.sources.every((x) => x.source === "garden.md")).toBe(true);
  });
});
