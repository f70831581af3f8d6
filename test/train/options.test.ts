// Tune options: gradient checkpointing follows the base (on for QLoRA, off for a float base) unless
// set, and the CLI's --no-gradient-checkpointing turns it off for a quantized base.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveTuneOptions } from "../../src/train/options.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { factRecords, tempDir, writeJsonl } from "./helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const base = { model: "m.gguf", data: [{ path: "d.jsonl" }], out: "o" };

describe("tune options", () => {
  it("turn gradient checkpointing on for a quantized base unless told otherwise", () => {
    expect(resolveTuneOptions(base).gradientCheckpointing).toBe(false);
    expect(resolveTuneOptions({ ...base, quantize: "nf4" }).gradientCheckpointing).toBe(true);
    expect(resolveTuneOptions({ ...base, quantize: "q8_0", gradientCheckpointing: false }).gradientCheckpointing).toBe(
      false,
    );
    expect(resolveTuneOptions({ ...base, gradientCheckpointing: true }).gradientCheckpointing).toBe(true);
  });

  it("--no-gradient-checkpointing reaches the resolved options of a QLoRA run", async () => {
    const dir = tempDir();
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(8));
    const config = async (out: string, extra: string[]) => {
      const r = await runCli([
        "tune",
        MODEL,
        "--data",
        data,
        "--out",
        out,
        "--quantize",
        "q8_0",
        "--max-steps",
        "1",
        ...extra,
      ]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      return JSON.parse(readFileSync(path.join(out, "tune-config.json"), "utf8")) as { gradientCheckpointing: boolean };
    };
    expect((await config(path.join(dir, "a"), [])).gradientCheckpointing).toBe(true);
    expect((await config(path.join(dir, "b"), ["--no-gradient-checkpointing"])).gradientCheckpointing).toBe(false);
  }, 120_000);
});
