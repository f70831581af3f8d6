// A disk that refuses writes: a read-only (immutable) data folder and a full disk give exit 6 and
// a named io error (io.permission_denied, io.disk_full) naming the path, for ingest, compact,
// delete and demo, from Node's fs and from LanceDB's native errors alike; the collection keeps
// its last commit. As root, permission bits do not stop writes, so folders are made immutable
// (chattr +i); a full disk is a 1 MiB tmpfs (mount needs root) or /dev/full.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LanceDbStoreProvider } from "../../src/rag/store/index.js";
import { mainCli } from "../helpers/main-cli.js";
import { CORPUS, INIT, change } from "./store-fixtures.js";

const cli = (home: string, ...args: string[]) => mainCli(args, { INFUSE_HOME: home });

const tmp = (p: string, under = os.tmpdir()) => mkdtemp(path.join(under, `infuse-${p}-`));
const asRoot = process.getuid?.() === 0;

/** Makes `dir` (and with `deep`, everything in it) unwritable, even for root; returns the undo. */
function readOnly(dir: string, deep = false): () => void {
  const flags = deep ? ["-R"] : [];
  if (asRoot) execFileSync("chattr", [...flags, "+i", dir]);
  else execFileSync("chmod", [...flags, "a-w", dir]);
  return () => {
    if (asRoot) execFileSync("chattr", [...flags, "-i", dir]);
    else execFileSync("chmod", [...flags, "u+w", dir]);
  };
}

async function docsFolder(paragraphs: number): Promise<string> {
  const docs = await tmp("docs");
  const text = Array.from(
    { length: paragraphs },
    (_, i) => `Paragraph ${i} tells of harbour ${i * 7919} and tide ${i}.`,
  );
  await writeFile(path.join(docs, "notes.md"), text.join("\n\n"));
  return docs;
}

/** A home with collection "c" ingested from a small folder. */
async function homeWithCollection() {
  const home = await tmp("home");
  const docs = await docsFolder(5);
  expect((await cli(home, "ingest", docs, "--collection", "c")).code).toBe(0);
  return { home, docs, dir: path.join(home, "collections/c") };
}

function expectIo(r: { code: number; stderr: string }, code: string, where: string) {
  expect(r.stderr).not.toContain("internal error");
  expect(r.code).toBe(6);
  expect(r.stderr).toContain(where);
  expect(r.stderr).toContain("hint:");
  const why =
    { "io.disk_full": /disk is full/, "io.read_only": /read-only/ }[code] ?? /not permitted|permission denied/;
  expect(r.stderr, r.stderr).toMatch(why);
}

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) execFileSync("umount", [m]);
});

/** A 1 MiB tmpfs, or undefined (with the reason printed) where this user cannot mount one outside CI. */
async function smallDisk(): Promise<string | undefined> {
  const at = await tmp("tmpfs");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", at], { stdio: "pipe" });
  } catch (e) {
    if (process.env["CI"]) throw e;
    console.log(`skipped: cannot mount a tmpfs here (${String(e).split("\n")[0]}); CI runs it as root`);
    await rm(at, { recursive: true });
    return undefined;
  }
  mounts.push(at);
  return at;
}

describe("a read-only data folder", () => {
  it("ingest, compact and delete of a collection in an unwritable folder exit 6 with a named error", async () => {
    const { home, docs, dir } = await homeWithCollection();
    await writeFile(path.join(docs, "more.md"), "Another harbour note.");
    const undo = readOnly(dir);
    try {
      expectIo(await cli(home, "ingest", docs, "--collection", "c"), "io.permission_denied", dir);
      expectIo(await cli(home, "collections", "compact", "c"), "io.permission_denied", dir);
      expectIo(await cli(home, "collections", "delete", "c"), "io.permission_denied", dir);
      const json = JSON.parse((await cli(home, "collections", "delete", "c", "--json")).stdout);
      expect(json).toMatchObject({
        error: "io.permission_denied",
        kind: "io",
        details: { path: expect.stringContaining(dir) },
      });
    } finally {
      undo();
    }
    expect((await cli(home, "collections", "show", "c", "--json")).code).toBe(0);
  });

  it("LanceDB's own refusal (its files unwritable, the lock not) is the same named error, and the last commit stays", async () => {
    const { home, docs, dir } = await homeWithCollection();
    await writeFile(path.join(docs, "more.md"), "Another harbour note.");
    const undo = readOnly(path.join(dir, "lance"), true);
    try {
      expectIo(await cli(home, "ingest", docs, "--collection", "c"), "io.permission_denied", dir);
      expectIo(await cli(home, "collections", "compact", "c"), "io.permission_denied", dir);
    } finally {
      undo();
    }
    const shown = JSON.parse((await cli(home, "collections", "show", "c", "--json")).stdout);
    expect(Object.keys(shown.files)).toEqual([expect.stringContaining("notes.md")]);
    expect((await cli(home, "ingest", docs, "--collection", "c")).code).toBe(0);
  });

  it("a new collection, and the demo, in an unwritable home exit 6", async () => {
    const home = await tmp("home");
    await mkdir(path.join(home, "collections"));
    const docs = await docsFolder(3);
    const undo = readOnly(home, true);
    try {
      expectIo(await cli(home, "ingest", docs, "--collection", "fresh"), "io.permission_denied", home);
      const demo = await cli(home, "demo");
      expect(demo.stderr).not.toContain("internal error");
      expect(demo.code).toBe(6);
    } finally {
      undo();
    }
  });
});

describe("a read-only file system", () => {
  it("ingest, compact, delete and demo on a file system mounted read-only exit 6 with io.read_only", async (ctx) => {
    const home = await smallDisk();
    if (!home) return ctx.skip();
    const docs = await docsFolder(5);
    expect((await cli(home, "ingest", docs, "--collection", "c")).code).toBe(0);
    await writeFile(path.join(docs, "more.md"), "Another harbour note.");
    execFileSync("mount", ["-o", "remount,ro", home]);
    try {
      const dir = path.join(home, "collections/c");
      for (const args of [
        ["ingest", docs, "--collection", "c"],
        ["collections", "compact", "c"],
        ["collections", "delete", "c"],
      ]) {
        const r = await cli(home, ...args);
        expect(r.stderr, args.join(" ")).toContain("read-only (EROFS)");
        expectIo(r, "io.read_only", dir);
      }
      const demo = await cli(home, "demo", "--json");
      expect(demo.code).toBe(6);
      expect(JSON.parse(demo.stdout)).toMatchObject({ error: "io.read_only", kind: "io" });
    } finally {
      execFileSync("mount", ["-o", "remount,rw", home]);
    }
    expect((await cli(home, "collections", "show", "c", "--json")).code).toBe(0);
  });
});

describe("a full disk", () => {
  it("the manifest's write (the commit point) on a full disk is io.disk_full, and the revision stays", async () => {
    const root = await tmp("store");
    const provider = new LanceDbStoreProvider(root);
    const s = await provider.openOrCreate("c", INIT);
    await s.commit(change(CORPUS));
    const tmpFile = path.join(root, "collections/c", `collection.json.${process.pid}.tmp`);
    await symlink("/dev/full", tmpFile); // every write to it fails with ENOSPC, as on a full disk
    await expect(s.commit(change({ "new.md": [{ text: "A new note." }] }))).rejects.toMatchObject({
      code: "io.disk_full",
      kind: "io",
      details: { errno: "ENOSPC", path: expect.stringContaining("collection.json") },
    });
    s.close();
    expect(await readdir(path.join(root, "collections/c"))).not.toContain(path.basename(tmpFile));
    const after = await provider.open("c");
    expect(after.manifest.revision).toBe(1);
    expect(await after.chunksOf("new.md")).toEqual([]);
    after.close();
    // the next writer rolls back the rows the failed commit left and commits
    const again = await provider.openOrCreate("c", INIT);
    expect((await again.commit(change({ "new.md": [{ text: "A new note." }] }))).revision).toBe(2);
    again.close();
  });

  it("ingest and compact that fill the disk in LanceDB (os error 28) exit 6 with io.disk_full", async (ctx) => {
    const home = await smallDisk();
    if (!home) return ctx.skip();
    const big = await docsFolder(12_000); // ~700 KB of text: its vectors and index do not fit in 1 MiB
    const r = await cli(home, "ingest", big, "--collection", "big");
    expectIo(r, "io.disk_full", path.join(home, "collections/big"));

    const small = await docsFolder(5);
    expect((await cli(home, "ingest", small, "--collection", "c")).code).toBe(0);
    const filler = path.join(home, "filler");
    await writeFile(filler, "").then(() => execFileSync("sh", ["-c", `cat /dev/zero > ${filler} 2>/dev/null || true`]));
    expectIo(await cli(home, "collections", "compact", "c"), "io.disk_full", path.join(home, "collections/c"));
    await rm(filler);
    expect((await cli(home, "collections", "compact", "c")).code).toBe(0);
  }, 30_000);
});
