// The training loop is generic: a task that is not LoRA (softmax regression, tiny-task.ts) trains
// through the same runTraining — metrics.jsonl with its own eval metrics, loss.svg, checkpoints, resume
// bit for bit in one thread and with 2 workers, early stop on a metric of its choice, refusal of a
// checkpoint written with other settings — and a worker's error reaches the main thread with its code.
// (task-conformance.ts checks what each task must do; this file checks what the loop does with one.)
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { matmul, Tensor } from "../../src/tensor/index.js";
import { latestCheckpoint } from "../../src/train/checkpoint.js";
import { runTraining, type LoopOptions } from "../../src/train/trainer.js";
import { startWorkers } from "../../src/train/workers.js";
import { tempDir } from "./helpers.js";
import { TinyClassifierTask, type TinySettings } from "./tiny-task.js";

const dir = tempDir("infuse-seam-");
const settings: TinySettings = { seed: 4, examples: 96, dim: 5, classes: 3, batchSize: 8, dropout: 0.2 };
const loop = (out: string, extra: Partial<LoopOptions> = {}): LoopOptions => ({
  out,
  resume: false,
  lr: 0.05,
  schedule: "cosine",
  warmupSteps: 2,
  weightDecay: 0.01,
  gradAccum: 2,
  clip: 1,
  epochs: 3,
  evalEvery: 3,
  patience: 0,
  saveEvery: 0,
  logEvery: 1,
  ...extra,
});
const lines = (out: string): Record<string, number>[] =>
  readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => ({ ...(JSON.parse(l) as Record<string, number>), tokens_per_s: 0, elapsed_s: 0 }));
const bytes = (task: TinyClassifierTask): Buffer[] => task.params.map((p) => Buffer.from(p.data.buffer.slice(0)));

/** Straight run vs. a run aborted after `stopAt` and resumed: same parameters and metrics, to the bit. */
async function expectExactResume(name: string, extra: Partial<LoopOptions>, stopAt: number): Promise<void> {
  const straightTask = new TinyClassifierTask(settings);
  const straight = await runTraining(straightTask, loop(path.join(dir, `${name}-straight`), extra));
  const cutOut = path.join(dir, `${name}-cut`);
  const ctl = new AbortController();
  const onMetric = (m: { step: number }) => m.step === stopAt && ctl.abort();
  await expect(
    runTraining(new TinyClassifierTask(settings), { ...loop(cutOut, extra), signal: ctl.signal, onMetric }),
  ).rejects.toMatchObject({ code: "cancelled", kind: "cancelled" });
  expect(path.basename((await latestCheckpoint(cutOut))!)).toBe(`step-${String(stopAt).padStart(6, "0")}`);
  const resumedTask = new TinyClassifierTask(settings);
  const resumed = await runTraining(resumedTask, { ...loop(cutOut, extra), resume: true });
  expect(resumed.resumedFrom).toContain(`step-${String(stopAt).padStart(6, "0")}`);
  expect(resumed.steps).toBe(straight.steps - stopAt);
  expect(bytes(resumedTask)).toEqual(bytes(straightTask));
  expect(lines(cutOut)).toEqual(lines(path.join(dir, `${name}-straight`)));
}

describe("runTraining with a task that is not LoRA", () => {
  it("trains, logs the task's eval metrics to metrics.jsonl and plots loss.svg", async () => {
    const out = path.join(dir, "plain");
    const r = await runTraining(new TinyClassifierTask(settings), loop(out));
    // 72 training points in batches of 8 = 9 micro-batches, 5 steps an epoch (the last one 1 batch), 3 epochs
    expect(r.steps).toBe(15);
    expect(r.tokens).toBe(72 * 3);
    const log = lines(out);
    expect(log[0]).toMatchObject({ step: 0, epoch: 0 });
    const evals = log.filter((l) => l["eval_loss"] !== undefined);
    expect(evals.map((l) => l["step"])).toEqual([0, 3, 6, 9, 12, 15]);
    for (const e of evals) expect(e["eval_accuracy"]).toBeGreaterThanOrEqual(0);
    expect(r.lastEvalLoss!).toBeLessThan(r.firstEvalLoss! * 0.8);
    expect(evals.at(-1)!["eval_accuracy"]!).toBeGreaterThan(evals[0]!["eval_accuracy"]!);
    expect(log.filter((l) => l["loss"] !== undefined)).toHaveLength(15);
    expect(readFileSync(path.join(out, "loss.svg"), "utf8")).toContain("<path");
    // the end state only (no --save-every), so the finished run can be extended
    expect(readdirSync(path.join(out, "checkpoints"))).toEqual(["step-000015"]);
  });

  it("resumes an aborted run bit for bit (dropout on: the task's RNG state is checkpointed)", () =>
    expectExactResume("one", {}, 7));

  it("resumes an aborted 2-worker run bit for bit, and 2 workers follow the 1-thread curve", async () => {
    await expectExactResume("two", { workers: 2 }, 4);
    // without dropout the shares' gradients sum to the whole micro-batch's: the curves agree to rounding
    const noDrop = { ...settings, dropout: 0 };
    await runTraining(new TinyClassifierTask(noDrop), loop(path.join(dir, "nd-1")));
    await runTraining(new TinyClassifierTask(noDrop), loop(path.join(dir, "nd-2"), { workers: 2 }));
    const loss = (out: string) =>
      lines(path.join(dir, out)).flatMap((l) => (l["loss"] !== undefined ? [l["loss"]] : []));
    const [a, b] = [loss("nd-1"), loss("nd-2")];
    expect(b).toHaveLength(a.length);
    a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThan(1e-5));
  }, 120_000);

  it("stops early on the task's monitored metric (accuracy, higher is better)", async () => {
    // lr 1e-9 leaves the predictions as they were, so accuracy never beats the first evaluation
    const task = new TinyClassifierTask({ ...settings, monitorAccuracy: true });
    const r = await runTraining(task, loop(path.join(dir, "early"), { lr: 1e-9, evalEvery: 1, patience: 2 }));
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBe(2);
  });

  it("refuses a checkpoint written with other task or loop settings", async () => {
    const out = path.join(dir, "mismatch");
    await runTraining(new TinyClassifierTask(settings), loop(out, { saveEvery: 2 }));
    const plot = readFileSync(path.join(out, "loss.svg"), "utf8");
    const other = new TinyClassifierTask({ ...settings, batchSize: 4 });
    await expect(runTraining(other, loop(out, { resume: true, saveEvery: 2 }))).rejects.toMatchObject({
      code: "train.checkpoint_mismatch",
    });
    const lr = runTraining(new TinyClassifierTask(settings), loop(out, { resume: true, saveEvery: 2, lr: 0.1 }));
    await expect(lr).rejects.toMatchObject({ code: "train.checkpoint_mismatch", message: /optimizer or schedule/ });
    expect(readFileSync(path.join(out, "loss.svg"), "utf8")).toBe(plot); // a refused run leaves the plot alone
  });
});

describe("worker errors", () => {
  it("reach the main thread with the code, kind and details the worker's InfuseError had", async () => {
    // the same matmul, (B, 5) · (6, 3), in this thread
    let here: unknown;
    try {
      matmul(new Tensor(new Float32Array(10), [2, 5]), new Tensor(new Float32Array(18), [6, 3]));
    } catch (e) {
      here = e;
    }
    expect(here).toBeInstanceOf(InfuseError);
    const { code, kind } = here as InfuseError;
    expect(code).toBe("tensor.shape_mismatch");
    const task = new TinyClassifierTask({ ...settings, badReplicaShape: true });
    const run = runTraining(task, loop(path.join(dir, "bad-shape"), { workers: 2 }));
    await expect(run).rejects.toBeInstanceOf(InfuseError);
    await expect(run).rejects.toMatchObject({ code, kind, details: { op: "matmul", worker: 1 } });
  }, 60_000);

  it("name a task kind the worker does not know", async () => {
    const task = new TinyClassifierTask(settings);
    const unknown = Object.assign(Object.create(task) as TinyClassifierTask, {
      parallel: { ...task.parallel, describe: () => ({ kind: "no-such-task", init: null }) },
    });
    await expect(startWorkers(unknown, 2)).rejects.toMatchObject({ code: "train.unknown_task", kind: "internal" });
  }, 60_000);
});
