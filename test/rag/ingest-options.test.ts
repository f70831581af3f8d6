// Ingest settings: one schema (IngestSettingsSchema) checks what ingestPath/ingestRecords/ingestSources
// take, what `infuse ingest`'s flags give (same error JSON for the same bad value, before anything
// is written) and the config file's `ingest` section (file and key in the error), whose values are
// defaults under the flags; an existing collection's stored splitter and analyzer win over them.
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configSection, parseConfig } from "../../src/core/config.js";
import type { InfuseError } from "../../src/core/errors.js";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { ingestPath, ingestRecords, ingestSources, type IngestPathOptions } from "../../src/rag/pipeline/ingest.js";
import { IngestConfigSchema, ingestSettings, type IngestSettings } from "../../src/rag/pipeline/ingest-options.js";
import { bytesSource } from "../../src/rag/source/index.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { runCli } from "../helpers/cli.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));
const embedder = new HashingEmbedder();

async function errorOf(run: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await run();
  } catch (e) {
    return (e as InfuseError).toJSON();
  }
  throw new Error("no error");
}

async function docs(): Promise<string> {
  const dir = await tmp("docs");
  await writeFile(path.join(dir, "ops.md"), "# Ops\n\nBackups run nightly at 02:00 and are kept for 35 days.");
  await writeFile(path.join(dir, "faq.csv"), "q,a\nWho runs backups?,The platform team runs the backups.\n");
  return dir;
}

describe("IngestSettingsSchema in the library", () => {
  it("names the setting and its flag, and rejects before anything is written", async () => {
    const dataDir = await tmp("home");
    const dir = await docs();
    const bad = { dataDir, embedder, splitter: { chunkSize: 0 } };
    const expected = {
      error: "rag.bad_ingest_option",
      kind: "usage",
      message: "splitter.chunkSize = 0: a positive integer",
      hint: "set splitter.chunkSize (--chunk-size) to a positive integer",
      details: { option: "splitter.chunkSize", flag: "--chunk-size" },
    };
    expect(await errorOf(() => ingestPath("c", dir, bad))).toEqual(expected);
    expect(await errorOf(() => ingestRecords("c", [{ id: "1", text: "x" }], bad))).toEqual(expected);
    expect(
      await errorOf(() =>
        ingestSources("c", [bytesSource({ key: "a.txt", bytes: new TextEncoder().encode("x") })], bad),
      ),
    ).toEqual(expected);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it("checks the overlap against the chunk size it applies to, the kind's default included", () => {
    expect(() => ingestSettings({ splitter: { overlap: 300, chunkSize: 300 } })).toThrow(
      "splitter.overlap = 300: an integer ≥ 0 below the chunk size (300)",
    );
    expect(() => ingestSettings({ splitter: { kind: "token", overlap: 256 } })).toThrow("below the chunk size (256)");
    expect(ingestSettings({ splitter: { kind: "token", overlap: 255 } })).toEqual({
      splitter: { kind: "token", overlap: 255 },
    });
  });

  it("rejects a key that is not an ingest setting, nested ones too", async () => {
    const options = { dataDir: await tmp("home"), embedder, fts: { stemming: false } } as unknown as IngestPathOptions;
    const dir = await docs();
    expect(await errorOf(() => ingestPath("c", dir, options))).toEqual({
      error: "rag.bad_ingest_option",
      kind: "usage",
      message: "fts.stemming: not an ingest option",
      hint: "remove fts.stemming or fix its spelling",
      details: { option: "fts.stemming" },
    });
  });
});

describe("infuse ingest's flags go through the same schema", () => {
  it("gives the error ingestPath() gives for the same value, and writes nothing", async () => {
    const home = await tmp("home");
    const dir = await docs();
    const cases: [string[], IngestSettings][] = [
      [["--chunk-size", "abc"], { splitter: { chunkSize: "abc" as unknown as number } }],
      [["--overlap", "2000"], { splitter: { overlap: 2000 } }],
      [["--splitter", "words"], { splitter: { kind: "words" as "none" } }],
      [["--embed-batch-size", "1.5"], { embedBatchSize: 1.5 }],
    ];
    for (const [flags, settings] of cases) {
      const library = await errorOf(() => ingestPath("c", dir, { dataDir: home, embedder, ...settings }));
      expect(library).toMatchObject({ error: "rag.bad_ingest_option" });
      const r = await runCli(["ingest", dir, "--collection", "c", ...flags, "--json"], { env: { INFUSE_HOME: home } });
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout)).toEqual(library);
    }
    expect(await readdir(home)).toEqual([]);
  }, 60_000);
});

describe("the config file's ingest section", () => {
  const section = (ingest: Record<string, unknown>) => {
    const parsed = parseConfig({ ingest }, "infuse.config.json");
    return configSection(
      { file: "infuse.config.json", rag: {}, ...(parsed.ingest ? { ingest: parsed.ingest } : {}) },
      "ingest",
      IngestConfigSchema,
    );
  };

  it("is checked by the schema, with the file and key path in the error", () => {
    expect(() => section({ splitter: { chunkSize: 0 } })).toThrow(
      'infuse.config.json: "ingest.splitter.chunkSize" a positive integer',
    );
    expect(() => section({ chunkSize: 500 })).toThrow('unknown key "ingest.chunkSize"');
    // the embedder lives in rag.embedder, shared with ask
    expect(() => section({ embedderSpec: "hash" })).toThrow('unknown key "ingest.embedderSpec"');
    expect(section({ batchSize: 5, fts: { language: "French" } })).toEqual({
      batchSize: 5,
      fts: { language: "French" },
    });
  });

  it("gives defaults under the flags; a collection's stored splitter wins over it on a re-run", async () => {
    const home = await tmp("home");
    const dir = await docs();
    const config = path.join(home, "infuse.config.json");
    const ingest = {
      splitter: { kind: "recursive", chunkSize: 300, overlap: 10 },
      fts: { language: "French" },
      tabular: { textColumn: "a" },
      batchSize: 1,
    };
    await writeFile(config, JSON.stringify({ ingest }));
    const env = { env: { INFUSE_HOME: home } };
    const first = await runCli(
      ["-c", config, "ingest", dir, "--collection", "c", "--chunk-size", "200", "--json"],
      env,
    );
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    // batchSize 1 from the config: a commit per file; the CSV's text column "a" from it too
    expect(JSON.parse(first.stdout)).toMatchObject({ added: ["faq.csv", "ops.md"], batches: 2, failed: [] });
    const manifest = async () => (await new LanceDbStoreProvider(home).manifest("c"))!;
    expect((await manifest()).splitter).toEqual({ kind: "recursive", chunkSize: 200, overlap: 10 });
    expect((await manifest()).fts).toMatchObject({ language: "French" });

    // another config: the collection keeps what it was built with instead of failing on a mismatch
    await writeFile(config, JSON.stringify({ ingest: { ...ingest, splitter: { chunkSize: 500 } } }));
    await writeFile(path.join(dir, "ops.md"), "# Ops\n\nBackups run nightly and are kept for 40 days.");
    const again = await runCli(["-c", config, "ingest", dir, "--collection", "c", "--json"], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ updated: ["ops.md"], unchanged: 1 });
    expect((await manifest()).splitter).toEqual({ kind: "recursive", chunkSize: 200, overlap: 10 });

    await writeFile(config, JSON.stringify({ ingest: { batchSize: "all" } }));
    const bad = await runCli(["-c", config, "ingest", dir, "--collection", "c", "--json"], env);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      error: "config.invalid_value",
      details: { file: config, key: "ingest.batchSize" },
    });
  }, 60_000);
});
