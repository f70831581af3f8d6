// The RAG commands as users run them: the real CLI's main() in this process (its stdout and
// stderr captured), and in a child process for chat over stdin: ingest, ask --json,
// collections list/show/delete, chat, demo, and the exit codes of mistakes.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { mainCli } from "../helpers/main-cli.js";
import { REPO_ROOT } from "../helpers/fixtures.js";

const tmp = (p: string) => mkdtemp(path.join(os.tmpdir(), `infuse-${p}-`));

/** main() in-process with INFUSE_HOME set. */
const runCli = (args: string[], options: { env: { INFUSE_HOME: string } }) => mainCli(args, options.env);

/** The CLI with text on stdin (runCli ignores stdin). */
function runWithStdin(
  args: string[],
  input: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const loader = pathToFileURL(path.join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;
  const child = spawn(
    process.execPath,
    ["--import", loader, path.join(REPO_ROOT, "test/helpers/cli-entry.ts"), ...args],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("infuse ingest / ask / chat / collections / demo", () => {
  it("ingests a folder, answers --json with cited sources, lists, shows and deletes collections", async () => {
    const home = await tmp("home");
    const docs = await tmp("docs");
    await writeFile(
      path.join(docs, "ops.md"),
      "# Ops\n\n## Backups\n\nBackups run nightly at 02:00 and are kept for 35 days.",
    );
    await writeFile(path.join(docs, "faq.csv"), "q,a\nWho runs backups?,The platform team runs the backups.\n");
    const env = { INFUSE_HOME: home };

    const ingest = await runCli(
      ["ingest", docs, "--collection", "ops", "--text-column", "a", "--batch-size", "1", "--json"],
      { env },
    );
    expect(ingest.code).toBe(0);
    expect(JSON.parse(ingest.stdout)).toMatchObject({
      collection: "ops",
      added: ["faq.csv", "ops.md"],
      chunks_total: 2,
      batches: 2, // --batch-size 1: a commit per file
      failed: [],
      skipped: [],
    });

    const answer = await runCli(["ask", "How long are backups kept?", "--collection", "ops", "--json"], { env });
    expect(answer.code).toBe(0);
    const json = JSON.parse(answer.stdout);
    expect(json).toMatchObject({ mode: "extractive", answer: expect.stringContaining("kept for 35 days") });
    expect(json.sources[0]).toEqual({
      n: 1,
      source: "ops.md",
      page: null,
      chunk_id: expect.stringMatching(/^[0-9a-f]{24}$/),
      score: expect.any(Number),
      retriever: "bm25",
      heading: "Ops › Backups",
      row: null,
      doc_id: null,
      text: expect.stringContaining("kept for 35 days"),
    });
    const log = (await readFile(path.join(home, "logs/inference.jsonl"), "utf8")).trim().split("\n");
    expect(JSON.parse(log[0]!)).toMatchObject({ question: "How long are backups kept?", collection: "ops" });

    const human = await runCli(
      ["ask", "Who runs backups?", "--collection", "ops", "--mode", "bm25", "-k", "1", "--no-log"],
      { env },
    );
    expect(human.stdout).toContain("(extractive answer:");
    expect(human.stdout).toContain("Sources:\n[1] faq.csv row 1");

    const list = await runCli(["collections", "--json"], { env });
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ name: "ops", chunks: 2, units: 2, embedder: "hash-1024-unigram-stop" }),
    ]);
    const show = await runCli(["collections", "show", "ops"], { env });
    expect(show.stdout).toContain("embedder  hash-1024-unigram-stop (1024 dims");
    expect(show.stdout).toContain("bm25      English, stem true, stop words true");
    await runCli(["ingest", docs, "--collection", "plain", "--text-column", "a", "--no-stemming", "--no-stop-words"], {
      env,
    });
    const plain = JSON.parse((await runCli(["collections", "show", "plain", "--json"], { env })).stdout);
    expect(plain.fts).toMatchObject({ language: "English", stem: false, remove_stop_words: false });
    const deleted = await runCli(["collections", "delete", "ops"], { env });
    expect(deleted.code).toBe(0);
    const missing = await runCli(["ask", "anything", "--collection", "ops"], { env });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('error: collection "ops" does not exist');
    expect(missing.stderr).toContain("hint:");
  });

  it("chat answers a line per question on stdin, rewriting the follow-up", async () => {
    const home = await tmp("home");
    const docs = await tmp("docs");
    await writeFile(
      path.join(docs, "pw.md"),
      "Passwords must be at least 14 characters long. They are stored in the vault.",
    );
    await runCli(["ingest", docs, "--collection", "pw"], { env: { INFUSE_HOME: home } });
    const r = await runWithStdin(
      ["chat", "--collection", "pw", "--json"],
      "How long must passwords be?\nWhere are they stored?\n",
      { INFUSE_HOME: home },
    );
    expect(r.code).toBe(0);
    const turns = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(turns).toHaveLength(2);
    expect(turns[1]).toMatchObject({
      question: "Where are they stored?",
      rewrite: "previous-question",
      standalone: "Where are they stored? long passwords",
    });
  });

  it("demo ingests the shipped sample documents and answers two questions with citations", async () => {
    const home = await tmp("home");
    const r = await runCli(["demo"], { env: { INFUSE_HOME: home } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('collection "demo": 6 added');
    expect(r.stdout).toContain("Q: How long must passwords be?");
    expect(r.stdout).toContain("Passwords must be at least 14 characters long");
    // the PDF's heading line is not run into its text, and no unrelated passage pads the answer
    expect(r.stdout).not.toContain("Passwords Passwords");
    expect(r.stdout).not.toContain("harbor-guest");
    expect(r.stdout).toContain("[1] security-policy.pdf p.1");
    expect(r.stdout).toContain("Claim travel expenses in the Ledgerly app within 30 days");
    expect(r.stdout).toContain("[1] handbook.md › Harbor Labs team handbook › Expenses › Travel");
  });

  it("reports usage mistakes with exit code 2", async () => {
    const r = await runCli(["ingest", "/nonexistent-folder", "--collection", "bad name"], {
      env: { INFUSE_HOME: await tmp("home") },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid collection name "bad name"');
  });
});
