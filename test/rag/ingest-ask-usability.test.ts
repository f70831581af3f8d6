// The rough edges a new user hit in ingest and ask (issue 15), each reproduced first: CSV rows
// indexed whole and their settings kept per collection, the same files ingested twice, padded
// and Markdown-leaking extractive answers, chat follow-ups, named models that cannot be used,
// --json sources, source patterns in filters, and the collections listing. The real CLI runs
// in this process (mainCli) on real files and LanceDB collections.
import { mkdir, mkdtemp, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HashingEmbedder } from "../../src/rag/embed/hashing.js";
import { extractiveAnswer } from "../../src/rag/generate/extractive.js";
import { plainParagraphs } from "../../src/rag/generate/plain-text.js";
import { ChatSession, lexicalFollowUp } from "../../src/rag/pipeline/chat.js";
import { ingestPath } from "../../src/rag/pipeline/ingest.js";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { sourceMatches } from "../../src/rag/store/filter.js";
import { mainCli } from "../helpers/main-cli.js";
import { REPO_ROOT } from "../helpers/fixtures.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-usab-${p}-`));
const embedder = new HashingEmbedder();

const BAKERY =
  "name,price_eur,description\n" +
  "Butter croissant,2.10,Laminated dough with Normandy butter.\n" +
  "Almond croissant,3.20,Filled with frangipane and topped with flaked almonds.\n" +
  "Sourdough loaf,5.50,A 36-hour fermented country loaf.\n";

const hit = (text: string, n: number, extra: { headingPath?: string[]; metadata?: Record<string, number> } = {}) => ({
  chunk: { id: String(n), text, source: "s", start: 0, end: text.length, metadata: extra.metadata ?? {}, ...extra },
  score: 1,
  retriever: "bm25",
});

describe("CSV rows and per-collection ingest settings", () => {
  it("indexes every column of a row by default, so the price is found with the description", async () => {
    const home = await tmp("home");
    const docs = await tmp("docs");
    await writeFile(path.join(docs, "menu.csv"), BAKERY);
    const env = { INFUSE_HOME: home };
    const ingest = await mainCli(["ingest", docs, "--collection", "menu", "--json"], env);
    expect(ingest.code).toBe(0);
    expect(JSON.parse(ingest.stdout)).toMatchObject({ added: ["menu.csv"], failed: [], chunks_total: 3 });
    const answer = await mainCli(["ask", "How much is an almond croissant?", "--collection", "menu", "--json"], env);
    const json = JSON.parse(answer.stdout);
    expect(json.answer).toContain("price_eur: 3.20");
    expect(json.answer).toContain("frangipane");
    expect(json.answer).not.toContain("Butter croissant");
    // the --json source has the passage and the row the text output shows
    expect(json.sources[0]).toMatchObject({ source: "menu.csv", row: 2, text: expect.stringContaining("3.20") });
    const human = await mainCli(["ask", "How much is an almond croissant?", "--collection", "menu", "--no-log"], env);
    expect(human.stdout).toContain("[1] menu.csv row 2");
  });

  it("keeps --text-column with the collection: a re-ingest reuses it; another value is told", async () => {
    const home = await tmp("home");
    const docs = await tmp("docs");
    await writeFile(path.join(docs, "menu.csv"), BAKERY);
    const env = { INFUSE_HOME: home };
    await mainCli(["ingest", docs, "--collection", "menu", "--text-column", "description"], env);
    const manifest = JSON.parse(await readFile(path.join(home, "collections/menu/collection.json"), "utf8"));
    expect(manifest.tabular).toEqual({ textColumn: "description" });
    expect((await mainCli(["collections", "show", "menu"], env)).stdout).toContain(
      'tables    text column "description"',
    );
    const chunks = await new LanceDbStoreProvider(home).open("menu");
    expect((await chunks.chunksOf("menu.csv"))[0]!.text).toBe("Laminated dough with Normandy butter.");
    chunks.close();

    // no flag: the stored column is used, so nothing changed
    const again = JSON.parse((await mainCli(["ingest", docs, "--collection", "menu", "--json"], env)).stdout);
    expect(again).toMatchObject({ unchanged: 1, added: [], updated: [] });
    // another column: warned, rows read again, stored for next time
    const other = await mainCli(["ingest", docs, "--collection", "menu", "--text-column", "name", "--json"], env);
    expect(other.stderr).toContain('--text-column name replaces "description"');
    expect(JSON.parse(other.stdout)).toMatchObject({ updated: ["menu.csv"] });
    const after = JSON.parse(await readFile(path.join(home, "collections/menu/collection.json"), "utf8"));
    expect(after.tabular).toEqual({ textColumn: "name" });
    // a splitter flag that contradicts the stored splitter names both
    const split = await mainCli(["ingest", docs, "--collection", "menu", "--chunk-size", "300"], env);
    expect(split.code).toBe(2);
    expect(split.stderr).toContain(
      '--chunk-size 300 differs from collection "menu"\'s stored splitter.chunkSize (1000)',
    );
  });
});

describe("duplicate content and remove-file", () => {
  it("stores a file reached from two ingest roots once, and removes sources by name or glob", async () => {
    const home = await tmp("home");
    const root = await tmp("root");
    await mkdir(path.join(root, "notes"));
    await writeFile(path.join(root, "readme.md"), "# Readme\n\nThe harbour opens at dawn.");
    await writeFile(path.join(root, "notes", "eggs.md"), "# Eggs\n\nThe cake takes four eggs.");
    await writeFile(path.join(root, "notes", "butter.md"), "# Butter\n\nThe cake takes 200 g of butter.");
    const env = { INFUSE_HOME: home };
    await mainCli(["ingest", root, "--collection", "kb"], env);
    const second = await mainCli(["ingest", path.join(root, "notes"), "--collection", "kb", "--json"], env);
    const report = JSON.parse(second.stdout);
    expect(report.added).toEqual([]);
    expect(report.duplicates).toEqual([
      { source: "butter.md", of: "notes/butter.md" },
      { source: "eggs.md", of: "notes/eggs.md" },
    ]);
    expect(report.chunks_total).toBe(3);
    const text = await mainCli(["ingest", path.join(root, "notes"), "--collection", "kb"], env);
    expect(text.stdout).toContain("duplicates, not indexed again (2):\n  butter.md: same content as notes/butter.md");
    const answer = JSON.parse(
      (await mainCli(["ask", "How many eggs does the cake take?", "--collection", "kb", "--json", "--no-log"], env))
        .stdout,
    );
    expect(answer.context.map((c: { source: string }) => c.source)).toEqual(["notes/eggs.md", "notes/butter.md"]);

    // filters: a folder ending in / and a glob match the sources under it
    for (const filter of ["source=notes/", "source=notes/*.md", "source=*/eggs.md", "source=n?tes/"]) {
      const r = JSON.parse(
        (await mainCli(["ask", "cake", "--collection", "kb", "--filter", filter, "--json", "--no-log"], env)).stdout,
      );
      expect(r.context.length, filter).toBeGreaterThan(0);
      expect(
        r.context.every((c: { source: string }) => c.source.startsWith("notes/")),
        filter,
      ).toBe(true);
    }
    const exact = JSON.parse(
      (await mainCli(["ask", "cake", "--collection", "kb", "--filter", "source=notes", "--json", "--no-log"], env))
        .stdout,
    );
    expect(exact.context).toEqual([]);
    // LIKE's own wildcards in a pattern are literal: "not_s/" is not "notes/"
    const literal = JSON.parse(
      (await mainCli(["ask", "cake", "--collection", "kb", "--filter", "source=not_s/", "--json", "--no-log"], env))
        .stdout,
    );
    expect(literal.context).toEqual([]);

    const removed = await mainCli(["collections", "remove-file", "kb", "notes/*", "--json"], env);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({
      removed: ["notes/butter.md", "notes/eggs.md"],
      chunks_removed: 2,
      chunks_total: 1,
    });
    const missing = await mainCli(["collections", "remove-file", "kb", "nothing.md"], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('no source of collection "kb" matches "nothing.md"');
    // the notes folder can now be ingested on its own
    const back = JSON.parse(
      (await mainCli(["ingest", path.join(root, "notes"), "--collection", "kb", "--json"], env)).stdout,
    );
    expect(back).toMatchObject({ added: ["butter.md", "eggs.md"], duplicates: [] });
  });

  it("keeps a file renamed inside the synced folder, and stores two copies in one folder once", async () => {
    const dataDir = await tmp("data");
    const docs = await tmp("docs");
    await writeFile(path.join(docs, "z-old.md"), "Backups run nightly.");
    await ingestPath("r", docs, { dataDir, embedder });
    // renamed: a-new.md comes first in the walk, while z-old.md still looks present
    await rename(path.join(docs, "z-old.md"), path.join(docs, "a-new.md"));
    const renamed = await ingestPath("r", docs, { dataDir, embedder });
    expect(renamed).toMatchObject({ added: ["a-new.md"], removed: ["z-old.md"], duplicates: [], chunksTotal: 1 });
    await writeFile(path.join(docs, "copy.md"), "Backups run nightly.");
    const copied = await ingestPath("r", docs, { dataDir, embedder });
    expect(copied).toMatchObject({ added: [], duplicates: [{ source: "copy.md", of: "a-new.md" }], chunksTotal: 1 });
  });
});

describe("extractive answers and chat without a language model", () => {
  it("quotes plain text: no Markdown marks, table pipes, heading lines or unrelated passages", () => {
    expect(
      plainParagraphs(
        "## Prices\n\n| Item | Price |\n|---|---:|\n| **Butter** | 2.10 |\n\n- Use `infuse ask` and [the guide](x.md).",
      ),
    ).toEqual(["Item: Butter; Price: 2.10", "Use infuse ask and the guide."]);
    // a PDF's bare heading line is dropped, a wrapped sentence is joined
    expect(plainParagraphs("1. Passwords\nPasswords must be long.\nIt opens at\n08:00 daily.")).toEqual([
      "Passwords must be long. It opens at 08:00 daily.",
    ]);
    const answer = extractiveAnswer("How long must passwords be?", [
      hit("1. Passwords\nPasswords must be at least **14 characters** long. Never share them.", 1),
      hit('Guests use "harbor-guest", whose password changes every Monday.', 2),
    ]);
    expect(answer).toBe("Passwords must be at least 14 characters long. [1]");
    const faq = extractiveAnswer("Where is the office?", [
      hit(
        "Where is the office?\nThe office is on the quay. Ask the office manager for keys.\n\nWhat is the Wi-Fi?\nUse harbor.",
        1,
      ),
    ]);
    expect(faq).toBe("The office is on the quay. Ask the office manager for keys. [1]");
    const row = extractiveAnswer("How much is an almond croissant?", [
      hit("name: Almond croissant\nprice_eur: 3.20", 1, { metadata: { row: 2 } }),
    ]);
    expect(row).toBe("name: Almond croissant; price_eur: 3.20 [1]");
  });

  it("a follow-up adds at most the previous question's key terms, and only when it refers back", async () => {
    expect(lexicalFollowUp("How much butter goes into the cake?", "And the eggs?")).toBe("And the eggs?");
    expect(lexicalFollowUp("How long must passwords be?", "Where are they stored?")).toBe(
      "Where are they stored? long passwords",
    );
    expect(lexicalFollowUp("How long must passwords be?", "Why?")).toBe("Why? long passwords");
    // a chain of references keeps its subject, at most four carried terms
    expect(lexicalFollowUp("Where are they stored? long passwords", "Who can read them?")).toBe(
      "Who can read them? stored long passwords",
    );
    expect(lexicalFollowUp("Send the monthly quarterly yearly weekly report", "Who writes it?")).toBe(
      "Who writes it? send monthly quarterly yearly",
    );
    const dataDir = await tmp("data");
    const docs = await tmp("docs");
    await writeFile(path.join(docs, "butter.md"), "The cake takes 200 g of butter, softened.");
    await writeFile(path.join(docs, "eggs.md"), "Beat four eggs before folding them in.");
    await writeFile(path.join(docs, "oven.md"), "Bake the cake at 180 degrees for 40 minutes.");
    await ingestPath("cake", docs, { dataDir, embedder });
    const chat = await ChatSession.open({ dataDir, collection: "cake", embedder, log: false });
    const first = await chat.ask("How much butter goes into the cake?");
    expect(first.sources[0]!.source).toBe("butter.md");
    const second = await chat.ask("And the eggs?");
    expect(second.hits[0]!.chunk.source).toBe("eggs.md");
    expect(second.answer).toContain("four eggs");
    expect(second.answer).not.toContain("butter");
    await chat.close();
  });
});

describe("named language models and the collections listing", () => {
  it("fails with the right kind when the named model cannot be used; only no model falls back", async () => {
    const home = await tmp("home");
    const env = { INFUSE_HOME: home, OLLAMA_HOST: "http://127.0.0.1:9", INFUSE_OFFLINE: "1" };
    await mainCli(["ingest", path.join(REPO_ROOT, "examples/sample-docs/faq.txt"), "--collection", "faq"], env);
    const q = ["ask", "Where is the office?", "--collection", "faq", "--no-log"];
    const badPath = await mainCli([...q, "--llm", "/nonexistent/model.gguf"], env);
    expect(badPath.code).toBe(4);
    expect(badPath.stderr).toContain('model "/nonexistent/model.gguf" not found');
    const unknown = await mainCli([...q, "--llm", "no-such-model"], env);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain("a model served by Ollama is ollama:no-such-model");
    const down = await mainCli([...q, "--llm", "ollama:llama3.2"], env);
    expect(down.code).toBe(5);
    expect(down.stderr).toContain("cannot reach Ollama");
    const none = await mainCli(q, env);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain("(extractive answer: no language model is configured");
    expect(none.stdout).toContain("The office is at Quay Street 7");
  });

  it("hides evaluation caches unless --all and keeps columns aligned with long names", async () => {
    const home = await tmp("home");
    const docs = await tmp("docs");
    await writeFile(path.join(docs, "a.md"), "Backups run nightly.");
    const env = { INFUSE_HOME: home };
    const long = "a-collection-name-much-longer-than-twenty-characters";
    for (const name of ["kb", long, "beir-scifact-cedd66f2-hash-512"])
      await mainCli(["ingest", docs, "--collection", name, "--embedder", "hash-512"], env);
    const list = await mainCli(["collections"], env);
    const lines = list.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("(1 evaluation cache hidden; --all lists them)");
    expect(lines[0]).toContain("a-collection-name-much-longer-t…");
    // every column starts at the same place on each line
    expect(lines[0]!.indexOf("chunks")).toBe(lines[1]!.indexOf("chunks"));
    expect(lines[0]!.indexOf("hash-512")).toBe(lines[1]!.indexOf("hash-512"));
    const all = JSON.parse((await mainCli(["collections", "--all", "--json"], env)).stdout);
    expect(all.map((c: { name: string }) => c.name)).toContain("beir-scifact-cedd66f2-hash-512");
    const json = JSON.parse((await mainCli(["collections", "--json"], env)).stdout);
    expect(json.map((c: { name: string }) => c.name).sort()).toEqual([long, "kb"].sort());
  });

  it("gives new collections the better built-in embedder; existing ones keep theirs", async () => {
    const home = await tmp("home");
    const docs = await tmp("docs");
    await writeFile(path.join(docs, "a.md"), "Backups run nightly.");
    const env = { INFUSE_HOME: home };
    await mainCli(["ingest", docs, "--collection", "new"], env);
    await mainCli(["ingest", docs, "--collection", "old", "--embedder", "hash"], env);
    await writeFile(path.join(docs, "b.md"), "Restores are tested monthly.");
    const again = await mainCli(["ingest", docs, "--collection", "old", "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ added: ["b.md"] });
    const provider = new LanceDbStoreProvider(home);
    expect((await provider.manifest("new"))!.embedder.id).toBe("hash-1024-unigram-stop");
    expect((await provider.manifest("old"))!.embedder.id).toBe("hash-512");
    expect(sourceMatches("notes/a/b.md", "notes/")).toBe(true);
    expect(sourceMatches("notes.md", "notes/")).toBe(false);
  });
});
