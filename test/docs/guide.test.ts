// Runs the user guide (docs/guide/*.md) so it cannot rot: every ```sh block is run by bash and
// every ```ts block by tsx, in the guide's page order, in one fresh folder that holds the files
// the pages name. A block preceded by `<!-- not run: why -->` is only shown, never run.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, fixture } from "../helpers/fixtures.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";

const GUIDE = path.join(REPO_ROOT, "docs/guide");
/** The pages whose commands build on each other, in reading order (README.md lists them). */
const PAGES = ["getting-started.md", "rag.md", "fine-tuning.md", "embedding-tuning.md", "evaluation.md", "serving.md"];
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const CLI_ENTRY = path.join(REPO_ROOT, "test/helpers/cli-entry.ts");

interface Block {
  page: string;
  line: number;
  lang: "sh" | "ts";
  code: string;
  skipped?: string;
}

export function guideBlocks(page: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(sh|ts)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let prev = start - 1;
    while (prev >= 0 && lines[prev]!.trim() === "") prev--;
    const skip = prev >= 0 ? /^<!-- not run: (.*) -->$/.exec(lines[prev]!.trim()) : null;
    blocks.push({
      page,
      line: start + 1,
      lang: open[1] as "sh" | "ts",
      code: body.join("\n"),
      ...(skip ? { skipped: skip[1]! } : {}),
    });
  }
  return blocks;
}

const work = mkdtempSync(path.join(tmpdir(), "infuse-guide-"));
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  INFUSE_HOME: path.join(work, ".infuse-home"),
  INFUSE_CACHE: path.join(work, ".infuse-cache"),
  INFUSE_OFFLINE: "1",
  NO_COLOR: "1",
};
delete env["INFUSE_CONFIG"];

/** A folder on the blocks' PATH holding `infuse`, which execs the CLI from source. */
const BIN = path.join(work, ".bin");

function setUpFolder(): void {
  mkdirSync(BIN);
  writeFileSync(
    path.join(BIN, "infuse"),
    `#!/usr/bin/env bash\nexec ${JSON.stringify(process.execPath)} --import ${TSX_LOADER} ${CLI_ENTRY} "$@"\n`,
    { mode: 0o755 },
  );
  symlinkSync(path.join(REPO_ROOT, "examples/sample-docs"), path.join(work, "sample-docs"));
  symlinkSync(fixture("models/stories260K-gguf/stories260K.gguf"), path.join(work, "stories260K.gguf"));
  symlinkSync(fixture("datasets/alpaca/alpaca_en_demo.json"), path.join(work, "alpaca.json"));
  symlinkSync(path.dirname(fixture("datasets/scifact/corpus.jsonl")), path.join(work, "scifact"));
  symlinkSync(fixture("datasets/squad-v2-dev-subset/dev-v2.0.json"), path.join(work, "squad.json"));
}

/** Runs a command without blocking the test worker (a blocked worker misses vitest's heartbeats). */
function spawnText(command: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, output }));
  });
}

function run(block: Block): Promise<{ status: number | null; output: string }> {
  if (block.lang === "sh") {
    // `infuse` is the CLI from source (as `node bin/infuse.js` is the built one), a program on PATH
    // rather than a shell function, so `infuse serve … &` then `kill %1` stops the server itself
    return spawnText("bash", ["-c", `set -euo pipefail\nexport PATH=${JSON.stringify(BIN)}:$PATH\n${block.code}`]);
  }
  // a library example: "infuse" is the package's entry in the source tree
  const file = path.join(work, `example-${block.line}.mts`);
  const entry = pathToFileURL(path.join(REPO_ROOT, "src/index.ts")).href;
  writeFileSync(file, block.code.replace(/from "infuse"/g, `from ${JSON.stringify(entry)}`));
  return spawnText(process.execPath, ["--import", TSX_LOADER, file]);
}

setUpFolder();
// the starting encoder of embedding-tuning.md: tiny and random, with MiniLM's real vocabulary
await writeTinyBertGguf(path.join(work, "encoder.gguf"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the user guide's commands run", () => {
  for (const page of PAGES) {
    const blocks = guideBlocks(page, readFileSync(path.join(GUIDE, page), "utf8"));
    for (const block of blocks) {
      const title = `${page}:${block.line} ${block.code.split("\n")[0]!.slice(0, 60)}`;
      if (block.skipped !== undefined) {
        it.skip(`${title} (not run: ${block.skipped})`, () => {});
        continue;
      }
      it(title, async () => {
        const { status, output } = await run(block);
        expect(
          status,
          `${page} line ${block.line} failed:\n${block.code}\n--- output ---\n${output.slice(-3000)}`,
        ).toBe(0);
      });
    }
  }
});

describe("the guide's index and error table", () => {
  it("lists every page it runs", () => {
    const index = readFileSync(path.join(GUIDE, "README.md"), "utf8");
    for (const page of [...PAGES, "troubleshooting.md"]) expect(index).toContain(`(${page})`);
  });

  it("lists every error code the source can raise (scripts/error-codes.ts --check)", () => {
    const r = spawnSync(
      process.execPath,
      ["--import", TSX_LOADER, path.join(REPO_ROOT, "scripts/error-codes.ts"), "--check"],
      {
        cwd: REPO_ROOT,
        encoding: "utf8",
      },
    );
    expect(r.status, r.stderr).toBe(0);
  });

  it("finds a block's skip marker and language", () => {
    const text = "x\n\n<!-- not run: needs a GPU -->\n\n```sh\ninfuse a\n```\n```ts\nconst a = 1;\n```\n";
    expect(guideBlocks("p.md", text)).toEqual([
      { page: "p.md", line: 5, lang: "sh", code: "infuse a", skipped: "needs a GPU" },
      { page: "p.md", line: 8, lang: "ts", code: "const a = 1;" },
    ]);
  });
});
