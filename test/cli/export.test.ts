// `infuse export` and `infuse tune merge --quantize` in child processes: the GGUF and the Modelfile
// written, the adapter's chat template carried into both, a bad scheme refused.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GGUF_KEYS, openGguf } from "../../src/formats/gguf/index.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "../train/helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir("infuse-cli-export-");

describe("infuse export", () => {
  it("writes the quantized GGUF and a Modelfile; refuses an unknown scheme", async () => {
    const out = path.join(dir, "plain");
    const r = await runCli(["export", MODEL, "--quantize", "q4_k_m", "--out", out, "--json"]);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { gguf: string; modelfile: string; types: Record<string, number> };
    expect(res.gguf).toBe(path.join(out, "stories260K-q4_k_m.gguf"));
    // stories260K's rows are 64 wide: no 256-value k-quant block fits, so matrices fall back to Q8_0
    expect(res.types["Q8_0"]).toBeGreaterThan(0);
    expect(readFileSync(res.modelfile, "utf8")).toBe("FROM ./stories260K-q4_k_m.gguf\n"); // no chat template
    const bad = await runCli(["export", MODEL, "--quantize", "q3_k", "--out", out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("q4_k_m");
  }, 60_000);

  it("tune merge --quantize writes the merged model quantized, the adapter's template inside and in the Modelfile", async () => {
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(12));
    const template = path.join(dir, "qa.txt");
    writeFileSync(template, QA_TEMPLATE);
    const adapter = path.join(dir, "adapter");
    const t = await runCli([
      "tune",
      MODEL,
      "--data",
      data,
      "--template",
      template,
      "--out",
      adapter,
      "--max-steps",
      "1",
    ]);
    expect(t.code).toBe(0);
    const merged = path.join(dir, "merged", "fact-q8_0.gguf");
    const m = await runCli(["tune", "merge", MODEL, adapter, "-o", merged, "--quantize", "q8_0"]);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain(`wrote ${merged} (q8_0:`);
    const gguf = await openGguf(merged);
    const jinja = gguf.get(GGUF_KEYS.chatTemplate);
    gguf.close();
    expect(jinja).toBe(readFileSync(path.join(adapter, "chat_template.jinja"), "utf8"));
    const modelfile = readFileSync(path.join(dir, "merged", "Modelfile"), "utf8");
    expect(modelfile).toBe('FROM ./fact-q8_0.gguf\nTEMPLATE """Q: {{ .Prompt }} \nA: {{ .Response }}"""\n');
    expect(existsSync(merged)).toBe(true);
  }, 120_000);
});
