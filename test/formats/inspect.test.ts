// `infuse inspect` on a real GGUF, a HF folder, a written Q8_0 model with a chat template,
// and a truncated file (an InfuseError naming file and offset, exit code 3).
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GGUF_KEYS, GgmlType, kv, openGguf, writeGguf } from "../../src/formats/gguf/index.js";
import { inspectGguf, inspectHfFolder } from "../../src/formats/inspect.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { tinyLlama } from "./tiny-models.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-inspect-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("inspect", () => {
  it("reports a GGUF's architecture, parameters, types, context and tokenizer", async () => {
    const r = await inspectGguf(STORIES);
    expect(r).toMatchObject({
      format: "gguf",
      architecture: "llama",
      parameters: 292_800,
      contextLength: 2048,
      blockCount: 5,
      heads: 8,
      kvHeads: 4,
      tokenizer: { kind: "llama", vocabSize: 512 },
      chatTemplate: false,
      tensorTypes: [{ type: "F32", tensors: 48, parameters: 292_800, bytes: 292_800 * 4 }],
    });
    const hf = await inspectHfFolder(fixture("models/tinystories-656k-hf"), ["config.json", "model.safetensors"]);
    expect(hf).toMatchObject({ format: "safetensors", architecture: "llama", parameters: 656_000, contextLength: 512 });
    expect(hf.tokenizer).toMatchObject({ kind: "BPE", vocabSize: 2048 });
  });

  it("prints text and --json from the CLI, and fails cleanly on a truncated file", async () => {
    const g = await openGguf(STORIES);
    const tokenizer = new Map([...g.metadata].filter(([k]) => k.startsWith("tokenizer.")));
    g.close();
    tokenizer.set(GGUF_KEYS.chatTemplate, kv.str("{% for m in messages %}{{ m.content }}{% endfor %}"));
    const q8 = path.join(tmp, "q8.gguf");
    await writeGguf(q8, tinyLlama({ vocabSize: 512, embd: 64, ff: 128, tokenizer, matrixType: GgmlType.Q8_0 }));

    const text = await runCli(["inspect", q8]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/architecture\s+llama/);
    expect(text.stdout).toMatch(/chat template yes/);
    expect(text.stdout).toMatch(/Q8_0\s+8 tensors/);

    const json = await runCli(["inspect", q8, "--json", "--tensors"]);
    expect(json.code).toBe(0);
    const r = JSON.parse(json.stdout) as {
      tensor_types: { type: string }[];
      tensors: { name: string; type: string }[];
    };
    expect(r.tensor_types.map((t) => t.type).sort()).toEqual(["F32", "Q8_0"]);
    expect(r.tensors.find((t) => t.name === "blk.0.attn_q.weight")?.type).toBe("Q8_0");

    const cut = path.join(tmp, "cut.gguf");
    writeFileSync(cut, readFileSync(STORIES).subarray(0, 100_000));
    const bad = await runCli(["inspect", cut, "--json"]);
    expect(bad.code).toBe(3);
    const err = JSON.parse(bad.stdout) as { error: string; message: string };
    expect(err.error).toBe("gguf.truncated");
    expect(err.message).toContain("cut.gguf");
    expect(err.message).toMatch(/byte \d+/);
  });
});
