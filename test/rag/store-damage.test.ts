// Damaged collections: a truncated collection.json is listed apart (with why) while the healthy
// ones still list, `delete` removes it, and `repair` rebuilds its manifest from the readable start
// of the file plus the LanceDB table, or says it cannot and how to recover.
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { salvageJson } from "../../src/rag/store/salvage.js";
import { mainCli } from "../helpers/main-cli.js";
import { CORPUS, CORPUS_CHUNKS, INIT, change } from "./store-fixtures.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));

const cli = (home: string, ...args: string[]) => mainCli(args, { INFUSE_HOME: home });

/** Two collections, "good" and "bad", in a fresh INFUSE_HOME; "bad" has two commits. */
async function twoCollections() {
  const home = await tmp("home");
  const provider = new LanceDbStoreProvider(home);
  for (const name of ["good", "bad"]) {
    const s = await provider.openOrCreate(name, INIT);
    await s.commit(change(CORPUS));
    if (name === "bad") await s.commit(change({ "late.md": [{ text: "A late note about harbours." }] }));
    s.close();
  }
  const file = path.join(home, "collections/bad/collection.json");
  return { home, provider, file, text: await readFile(file, "utf8") };
}

describe("a damaged collection.json", () => {
  it("is listed apart with why, while the healthy collections list and open", async () => {
    const { home, provider, file, text } = await twoCollections();
    await writeFile(file, text.slice(0, Math.floor(text.length / 2)));
    expect((await provider.list()).map((c) => c.name)).toEqual(["good"]);
    expect(await provider.damaged()).toEqual([
      expect.objectContaining({ name: "bad", error: "rag.collection_corrupt", message: expect.stringContaining(file) }),
    ]);

    const human = await cli(home, "collections");
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^good\s+\d+ chunks/m);
    expect(human.stdout).toMatch(/^bad\s+DAMAGED: .*collection\.json is not a valid collection manifest/m);
    expect(human.stdout).toContain("infuse collections repair bad");
    const json = JSON.parse((await cli(home, "collections", "--json")).stdout) as Record<string, unknown>[];
    expect(json).toEqual([
      expect.objectContaining({ name: "good", chunks: CORPUS_CHUNKS }),
      expect.objectContaining({ name: "bad", damaged: true, error: "rag.collection_corrupt" }),
    ]);
    const show = await cli(home, "collections", "show", "bad");
    expect(show.code).toBe(3);
    expect(show.stderr).toContain("infuse collections repair bad");
  });

  it("is deleted by `collections delete`, as its hint says", async () => {
    const { home, file } = await twoCollections();
    await writeFile(file, "{");
    const r = await cli(home, "collections", "delete", "bad");
    expect(r.code).toBe(0);
    await expect(stat(path.dirname(file))).rejects.toMatchObject({ code: "ENOENT" });
    expect(JSON.parse((await cli(home, "collections", "--json")).stdout)).toEqual([
      expect.objectContaining({ name: "good" }),
    ]);
    expect((await cli(home, "collections", "delete", "bad")).code).toBe(4);
  });

  it("is repaired from its readable start and the table: settings, revision, files and search come back", async () => {
    const { home, provider, file, text } = await twoCollections();
    const before = await provider.requireManifest("bad");
    // cut inside the files list: the settings and some whole file records survive
    const cut = text.indexOf('"hash"', text.indexOf('"units"') + 200);
    await writeFile(file, text.slice(0, cut));
    const r = await cli(home, "collections", "repair", "bad");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('repaired collection "bad"');
    expect(r.stdout).toContain("committed table version");

    const after = await provider.requireManifest("bad");
    expect(after).toMatchObject({
      embedder: before.embedder,
      splitter: before.splitter,
      fts: before.fts,
      revision: before.revision,
      chunks: before.chunks,
      createdAt: before.createdAt,
    });
    expect(Object.keys(after.units).sort()).toEqual(Object.keys(before.units).sort());
    const kept = Object.entries(after.units).filter(([k, u]) => u.hash === before.units[k]!.hash);
    const reset = Object.values(after.units).filter((u) => u.hash === "");
    expect(kept.length).toBeGreaterThan(0);
    expect(reset.length).toBeGreaterThan(0); // their hash was cut off: the next ingest re-embeds them
    expect(kept.length + reset.length).toBe(Object.keys(before.units).length);
    for (const [k, u] of Object.entries(after.units)) expect(u.chunks).toBe(before.units[k]!.chunks);

    const s = await provider.open("bad");
    expect(await s.count()).toBe(before.chunks);
    expect((await s.searchText("harbours", { topK: 1 }))[0]?.chunk.source).toBe("late.md");
    // and it takes writes again
    await s.commit(change({ "next.md": [{ text: "Another note." }] }));
    s.close();
    expect((await provider.requireManifest("bad")).revision).toBe(before.revision + 1);

    const missing = await cli(home, "collections", "repair", "nope");
    expect(missing.code).toBe(4);
    await expect(stat(path.join(home, "collections/nope"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(JSON.parse((await cli(home, "collections", "repair", "good", "--json")).stdout)).toMatchObject({
      status: "healthy",
      chunks: CORPUS_CHUNKS,
    });
  });

  it("without its table version, repair uses the table's newest and says so", async () => {
    const { provider, file, text } = await twoCollections();
    const stored = JSON.parse(text) as Record<string, unknown>;
    delete stored["lancedb"];
    const noVersion = JSON.stringify(stored, null, 1);
    await writeFile(file, noVersion.slice(0, noVersion.length - 10));
    const report = await provider.repair("bad");
    expect(report.status).toBe("repaired");
    expect(report.notes.join("\n")).toContain("the committed table version was lost");
    expect(report.chunks).toBe(CORPUS_CHUNKS + 1);
  });

  it("cut before its settings, or without its table, it cannot be repaired and the error says how to recover", async () => {
    const { home, file, text } = await twoCollections();
    await writeFile(file, text.slice(0, text.indexOf('"splitter"')));
    const r = await cli(home, "collections", "repair", "bad");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("splitter");
    expect(r.stderr).toContain("infuse collections delete bad");

    await writeFile(file, text.slice(0, text.length - 20));
    await rm(path.join(path.dirname(file), "lance"), { recursive: true });
    const noTable = await cli(home, "collections", "repair", "bad", "--json");
    expect(noTable.code).toBe(3);
    expect(JSON.parse(noTable.stdout)).toMatchObject({ error: "rag.repair_impossible" });
  });
});

describe("salvageJson", () => {
  it("keeps whole members only and closes what is open", () => {
    const text = JSON.stringify({ a: 1, b: { c: "x", d: [1, 2] }, e: 123 });
    expect(salvageJson(text)).toEqual({ a: 1, b: { c: "x", d: [1, 2] }, e: 123 });
    expect(salvageJson(text.slice(0, text.indexOf("123") + 2))).toEqual({ a: 1, b: { c: "x", d: [1, 2] } });
    expect(salvageJson('{"a": 1, "b": {"c": "x", "d": [1')).toEqual({ a: 1, b: { c: "x" } });
    expect(salvageJson('{"a": "cut')).toBeUndefined();
    expect(salvageJson("")).toBeUndefined();
    expect(salvageJson('{"a": 1]')).toEqual({ a: 1 }); // what reads, up to the bad bracket
  });
});
