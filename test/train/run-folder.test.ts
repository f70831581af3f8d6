// A run's output folder is one run's: a folder holding a previous run is refused without --resume or
// --overwrite, --resume needs a checkpoint, a second run into a locked folder fails at once (a stale
// lock is taken over), and a torn newest checkpoint is passed over for the previous one with a warning.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listCheckpoints } from "../../src/train/checkpoint.js";
import { RUN_LOCK } from "../../src/train/run-folder.js";
import { runTraining, type LoopOptions } from "../../src/train/trainer.js";
import { tune } from "../../src/train/tune.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";
import { TinyClassifierTask, type TinySettings } from "./tiny-task.js";

const dir = tempDir("infuse-run-folder-");
const settings: TinySettings = { seed: 3, examples: 48, dim: 4, classes: 3, batchSize: 8, dropout: 0.2 };
const loop = (out: string, extra: Partial<LoopOptions> = {}): LoopOptions => ({
  out: path.join(dir, out),
  resume: false,
  lr: 0.05,
  schedule: "cosine",
  warmupSteps: 1,
  weightDecay: 0,
  gradAccum: 1,
  clip: 1,
  epochs: 2,
  evalEvery: 0,
  patience: 0,
  saveEvery: 0,
  logEvery: 1,
  ...extra,
});
const metricSteps = (out: string): number[] =>
  readFileSync(path.join(dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { step: number }).step);
const bytes = (task: TinyClassifierTask): Buffer[] => task.params.map((p) => Buffer.from(p.data.buffer.slice(0)));

describe("reusing a run folder", () => {
  it("refuses a used folder without resume or overwrite; overwrite starts afresh without old checkpoints", async () => {
    const first = await runTraining(new TinyClassifierTask(settings), loop("used", { saveEvery: 3 }));
    const firstSteps = metricSteps("used");
    expect(await listCheckpoints(path.join(dir, "used"))).not.toHaveLength(0);
    const before = readFileSync(path.join(dir, "used", "metrics.jsonl"), "utf8");
    await expect(runTraining(new TinyClassifierTask(settings), loop("used"))).rejects.toMatchObject({
      code: "train.out_exists",
      kind: "usage",
      hint: expect.stringContaining("--overwrite") as unknown,
    });
    expect(readFileSync(path.join(dir, "used", "metrics.jsonl"), "utf8")).toBe(before); // untouched
    const again = await runTraining(new TinyClassifierTask(settings), loop("used", { overwrite: true }));
    expect(again.steps).toBe(first.steps);
    // the old run's checkpoints are gone: only this run's end state remains
    const left = (await listCheckpoints(path.join(dir, "used"))).map((d) => path.basename(d));
    expect(left).toEqual([`step-${String(again.steps).padStart(6, "0")}`]);
    expect(metricSteps("used")).toEqual(firstSteps); // metrics of this run only
    expect(existsSync(path.join(dir, "used", RUN_LOCK))).toBe(false); // released
  });

  it("--resume on an empty or unknown folder is train.no_checkpoint, not a fresh start", async () => {
    await expect(
      runTraining(new TinyClassifierTask(settings), loop("never-ran", { resume: true })),
    ).rejects.toMatchObject({ code: "train.no_checkpoint", kind: "not_found" });
    expect(existsSync(path.join(dir, "never-ran", "metrics.jsonl"))).toBe(false);
  });

  it("a second run into a locked folder fails at once; a lock left by a dead process is taken over", async () => {
    const ctl = new AbortController();
    let started!: () => void;
    const training = new Promise<void>((resolve) => (started = resolve));
    const one = runTraining(new TinyClassifierTask(settings), {
      ...loop("busy", { epochs: 50 }),
      signal: ctl.signal,
      onMetric: (m) => m.step === 1 && started(),
    });
    await training; // the first run holds the folder
    await expect(runTraining(new TinyClassifierTask(settings), loop("busy"))).rejects.toMatchObject({
      code: "train.out_busy",
      kind: "io",
    });
    ctl.abort();
    await expect(one).rejects.toMatchObject({ code: "cancelled" });
    const dead = spawnSync(process.execPath, ["-e", ""]).pid; // exited: its pid names no live process
    writeFileSync(path.join(dir, "busy", RUN_LOCK), `${dead} stale-token`);
    const resumed = await runTraining(new TinyClassifierTask(settings), loop("busy", { epochs: 50, resume: true }));
    expect(resumed.resumedFrom).toContain("step-");
  }, 60_000);

  it("a torn newest checkpoint is passed over for the previous one, with a warning, and the run ends alike", async () => {
    const straight = new TinyClassifierTask(settings);
    await runTraining(straight, loop("straight"));
    await runTraining(new TinyClassifierTask(settings), loop("torn", { saveEvery: 4 }));
    const [newest, previous] = await listCheckpoints(path.join(dir, "torn"));
    const file = path.join(newest!, "state.safetensors");
    truncateSync(file, Math.floor(statSync(file).size / 2)); // a kill or a full disk mid-write
    const warnings: string[] = [];
    const task = new TinyClassifierTask(settings);
    const r = await runTraining(task, {
      ...loop("torn", { saveEvery: 4, resume: true }),
      onWarning: (w) => warnings.push(w),
    });
    expect(r.resumedFrom).toBe(previous);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(newest!);
    expect(bytes(task)).toEqual(bytes(straight)); // the steps after `previous` retrained to the same bits
  });
});

describe("tune and the CLI", () => {
  const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
  const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(8));
  writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
  const template = path.join(dir, "qa.txt");

  it("two concurrent tune runs into one --out: one trains, the other fails before loading the model", async () => {
    const out = path.join(dir, "tune-twice");
    const o = { model: MODEL, data: [{ path: data }], out, template, maxSteps: 2, batchSize: 4 };
    const results = await Promise.allSettled([tune(o), tune(o)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const failed = results.find((r) => r.status === "rejected");
    expect(failed?.reason).toMatchObject({ code: "train.out_busy" });
  }, 60_000);

  it("a used --out is refused naming --overwrite; the --overwrite flag starts afresh", async () => {
    const out = path.join(dir, "tune-twice");
    const o = { model: MODEL, data: [{ path: data }], out, template, maxSteps: 1 };
    await expect(tune(o)).rejects.toMatchObject({
      code: "train.out_exists",
      hint: expect.stringContaining("--overwrite") as unknown,
    });
    const args = ["tune", MODEL, "--data", data, "--out", out, "--template", template, "--max-steps", "1"];
    const again = await runCli([...args, "--overwrite", "--json"]);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { steps: number }).steps).toBe(1);
    expect((await listCheckpoints(out)).map((d) => path.basename(d))).toEqual(["step-000001"]); // this run's end
  }, 120_000);
});
