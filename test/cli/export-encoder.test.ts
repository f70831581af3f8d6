// `infuse export ENCODER --format … --out DIR` (the CLI's main in this process): a tiny bert GGUF written as a
// sentence-transformers folder, a GGUF and an ONNX file; that folder exported again as an f16 GGUF;
// unknown formats and st/onnx for a decoder refused with usage errors.
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GgmlType, openGguf } from "../../src/formats/gguf/index.js";
import { loadBert } from "../../src/models/bert/index.js";
import { mainCli } from "../helpers/main-cli.js";
import { fixture } from "../helpers/fixtures.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";
import { embedWith } from "../models/bert-export-helpers.js";
import { tempDir } from "../train/helpers.js";

const dir = tempDir("infuse-cli-export-encoder-");
const texts = ["the espresso machine is descaled every Friday", "Backups run nightly at 02:00"];

describe("infuse export (encoders)", () => {
  it("writes st, gguf and onnx from a bert GGUF; the folder exports again as an f16 GGUF", async () => {
    const gguf = await writeTinyBertGguf(path.join(dir, "tiny.gguf"), {
      hidden: 32,
      layers: 1,
      heads: 2,
      pooling: "cls",
    });
    const out = path.join(dir, "all");
    const r = await mainCli(["export", gguf, "--format", "st,gguf,onnx", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      dir: out,
      st: out,
      gguf: path.join(out, "model.gguf"),
      onnx: path.join(out, "onnx", "model.onnx"),
      pooling: "cls",
      normalize: true,
      dtype: "f32",
    });
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json"])
      expect(existsSync(path.join(out, f)), f).toBe(true);
    const [a, b] = [await loadBert(gguf), await loadBert(out)];
    expect(embedWith(b, texts, "cls")).toEqual(embedWith(a, texts, "cls"));

    const again = path.join(dir, "f16");
    const r2 = await mainCli(["export", out, "--format", "gguf", "--quantize", "f16", "--out", again]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain(`wrote ${path.join(again, "model.gguf")} (GGUF for llama.cpp / Ollama, pooling cls)`);
    const g = await openGguf(path.join(again, "model.gguf"));
    expect(g.tensor("blk.0.attn_q.weight")!.type).toBe(GgmlType.F16);
    expect(g.tensor("blk.0.attn_q.bias")!.type).toBe(GgmlType.F32);
    g.close();
  }, 60_000);

  it("refuses an unknown format, and st for a decoder", async () => {
    const gguf = await writeTinyBertGguf(path.join(dir, "tiny2.gguf"));
    const bad = await mainCli(["export", gguf, "--format", "pt", "--out", path.join(dir, "bad")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("st, gguf, onnx");
    const decoder = fixture("models/stories260K-gguf/stories260K.gguf");
    const st = await mainCli(["export", decoder, "--format", "st", "--out", path.join(dir, "dec")]);
    expect(st.code).toBe(2);
    expect(st.stderr).toContain("gguf only");
  }, 60_000);
});
