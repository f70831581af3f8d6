// Tune options: gradient checkpointing is on for every base unless set, and the CLI's
// --no-gradient-checkpointing turns it off. One schema checks
// tune()'s options, the CLI's flags (same error for the same bad value) and the config's tune section.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configSection, parseConfig } from "../../src/core/config.js";
import type { InfuseError } from "../../src/core/errors.js";
import { resolveTuneOptions, TuneConfigSchema, type TuneOptions } from "../../src/train/options.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { factRecords, tempDir, writeJsonl } from "./helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const base = { model: "m.gguf", data: [{ path: "d.jsonl" }], out: "o" };

describe("tune options", () => {
  it("turn gradient checkpointing on for every base unless told otherwise", () => {
    expect(resolveTuneOptions(base).gradientCheckpointing).toBe(true);
    expect(resolveTuneOptions({ ...base, quantize: "nf4" }).gradientCheckpointing).toBe(true);
    expect(resolveTuneOptions({ ...base, quantize: "q8_0", gradientCheckpointing: false }).gradientCheckpointing).toBe(
      false,
    );
    expect(resolveTuneOptions({ ...base, gradientCheckpointing: false }).gradientCheckpointing).toBe(false);
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

describe("TuneOptionsSchema, shared by tune(), the CLI and the config file", () => {
  const errorOf = (f: () => unknown): Record<string, unknown> => {
    try {
      f();
    } catch (e) {
      return (e as InfuseError).toJSON();
    }
    throw new Error("no error");
  };

  it("names the field and its flag in a bad value's error", () => {
    expect(errorOf(() => resolveTuneOptions({ ...base, maxLength: 0 }))).toEqual({
      error: "train.bad_option",
      kind: "usage",
      message: "maxLength = 0: a positive integer",
      hint: "set maxLength (--max-length) to a positive integer",
      details: { option: "maxLength", flag: "--max-length" },
    });
    expect(errorOf(() => resolveTuneOptions({ ...base, data: [] }))).toMatchObject({
      message: "data = []: at least one dataset file",
    });
  });

  it("gives the CLI's flags the errors tune() gives for the same values", async () => {
    const cases: [string[], Record<string, unknown>][] = [
      [["--max-length", "abc"], { maxLength: "abc" }],
      [["--dropout", "1"], { dropout: 1 }],
      [["--schedule", "step"], { schedule: "step" }],
    ];
    for (const [flags, field] of cases) {
      const library = errorOf(() => resolveTuneOptions({ ...base, ...field } as TuneOptions));
      const r = await runCli(["tune", "m.gguf", "--data", "d.jsonl", "--out", "o", ...flags, "--json"]);
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout)).toEqual(library);
    }
  }, 60_000);

  it("checks the config file's tune section with the same schema", () => {
    const section = (tune: Record<string, unknown>) => {
      const parsed = parseConfig({ tune }, "infuse.config.json");
      return configSection(
        { file: "infuse.config.json", rag: {}, ...(parsed.tune ? { tune: parsed.tune } : {}) },
        "tune",
        TuneConfigSchema,
      );
    };
    expect(() => section({ rank: 0 })).toThrow('infuse.config.json: "tune.rank" a positive integer');
    expect(() => section({ model: "m.gguf" })).toThrow('unknown key "tune.model"');
    expect(section({ rank: 4, targets: ["q_proj"] })).toEqual({ rank: 4, targets: ["q_proj"] });
  });

  it("takes the config file's tune section as defaults under the flags", async () => {
    const dir = tempDir();
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(8));
    const config = path.join(dir, "infuse.config.json");
    writeFileSync(config, JSON.stringify({ tune: { rank: 4, lr: 0.001, targets: ["q_proj", "k_proj"] } }));
    const out = path.join(dir, "out");
    const args = ["-c", config, "tune", MODEL, "--data", data, "--out", out, "--max-steps", "1", "--rank", "2"];
    const r = await runCli(args);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const written = JSON.parse(readFileSync(path.join(out, "tune-config.json"), "utf8")) as TuneOptions;
    expect(written).toMatchObject({ rank: 2, lr: 0.001, targets: ["q_proj", "k_proj"], alpha: 16 });
  }, 120_000);
});
