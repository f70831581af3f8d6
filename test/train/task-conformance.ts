// The conformance suite of the trainer seam: what every TrainingTask must do for the shared loop to
// train it exactly (batches a pure function of the epoch, shares that sum to the step's gradient,
// checkpoint state that restores its randomness, an evaluation that changes nothing, exact resume).
// task-conformance.test.ts runs it on the LoRA task and on the tiny classifier; a new task joins there.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { latestCheckpoint } from "../../src/train/checkpoint.js";
import type { TrainingTask } from "../../src/train/task.js";
import { runTraining, type LoopOptions } from "../../src/train/trainer.js";

/** Makes a fresh task; the same `dropout` gives the same task (same parameters, same streams). */
export type MakeTask = (o: { dropout: boolean }) => Promise<TrainingTask>;

const grads = (t: TrainingTask): Float32Array[] =>
  t.params.map((p) => p.grad?.data.slice() ?? new Float32Array(p.size));
/** Each parameter's bytes as a digest: equal digests = byte-identical values (cheap for large tables). */
const values = (t: TrainingTask): string[] =>
  t.params.map((p) =>
    createHash("sha256")
      .update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength))
      .digest("hex"),
  );
const metricLines = (out: string): unknown[] =>
  readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => ({ ...(JSON.parse(l) as object), tokens_per_s: 0, elapsed_s: 0 }));

function expectClose(a: Float32Array[], b: Float32Array[], tol: number): void {
  expect(a.map((g) => g.length)).toEqual(b.map((g) => g.length));
  let scale = 0;
  let diff = 0;
  a.forEach((g, i) =>
    g.forEach((v, j) => {
      scale = Math.max(scale, Math.abs(v));
      diff = Math.max(diff, Math.abs(v - b[i]![j]!));
    }),
  );
  expect(scale).toBeGreaterThan(0);
  expect(diff / scale).toBeLessThan(tol);
}

/**
 * Registers the suite's tests for one task (call inside a describe). `loop(name)`: the settings of a
 * short run in its own output folder; `stopAt`: the step the interrupted run is aborted after.
 */
export function trainingTaskConformance(make: MakeTask, loop: (name: string) => LoopOptions, stopAt: number): void {
  it("gives each epoch's micro-batches as a pure function of the epoch, every example once", async () => {
    const [a, b] = [await make({ dropout: true }), await make({ dropout: true })];
    expect(a.fingerprint).toBe(b.fingerprint);
    for (const epoch of [0, 1, 5]) expect(a.epochBatches(epoch)).toEqual(b.epochBatches(epoch));
    const sorted = (e: number) =>
      a
        .epochBatches(e)
        .flat()
        .sort((x, y) => x - y);
    expect(sorted(1)).toEqual(sorted(0));
    expect(new Set(sorted(0)).size).toBe(sorted(0).length);
    expect(a.epochBatches(1)).not.toEqual(a.epochBatches(0));
  });

  it("splits a step into shares whose gradients sum to the micro-batches' mean-loss gradient", async () => {
    const [local, shared] = [await make({ dropout: false }), await make({ dropout: false })];
    const batches = local.epochBatches(0).slice(0, 2);
    local.setTraining(true);
    let loss = 0;
    for (const b of batches) loss += local.microStep(b, 1 / batches.length, 0);
    shared.setTraining(true);
    const shares = shared.parallel!.split(batches, 2);
    expect(shares).toHaveLength(2);
    // replica 0 for both: the main thread's streams (no dropout here anyway)
    const sharedLoss = shared.runShare(shares[0]!, 0, 0) + shared.runShare(shares[1]!, 0, 0);
    expect(Math.abs(sharedLoss - loss / batches.length)).toBeLessThan(1e-5 * Math.abs(loss));
    expectClose(grads(shared), grads(local), 1e-4);
  });

  it("restores its randomness from the checkpoint state, through JSON", async () => {
    const [a, b, c] = [await make({ dropout: true }), await make({ dropout: true }), await make({ dropout: true })];
    const batch = a.epochBatches(0)[0]!;
    for (const t of [a, b, c]) {
      t.setTraining(true);
      // the same nudge in all three, off a start where randomness may not show (LoRA's B = 0)
      for (const p of t.params) p.data.forEach((v, i) => (p.data[i] = v + 0.01 * ((i % 7) - 3)));
    }
    a.microStep(batch, 1, 0); // moves a's streams on (dropout draws); its parameters stay as made
    const state = JSON.parse(JSON.stringify(a.saveState())) as unknown;
    const next = a.microStep(batch, 1, 1);
    b.loadState(state);
    expect(b.microStep(batch, 1, 1)).toBe(next);
    expect(c.microStep(batch, 1, 1)).not.toBe(next); // without the state: other dropout draws
  });

  it("evaluates without changing parameters or state", async () => {
    const t = await make({ dropout: true });
    const [before, state] = [values(t), JSON.stringify(t.saveState())];
    t.setTraining(false);
    const m = t.evaluate()!;
    expect(Number.isFinite(m.eval_loss)).toBe(true);
    expect(t.evaluate()).toEqual(m);
    expect(values(t)).toEqual(before);
    expect(JSON.stringify(t.saveState())).toBe(state);
  });

  it("resumes through runTraining to the parameters and metrics of an uninterrupted run", async () => {
    const straightTask = await make({ dropout: true });
    const straight = await runTraining(straightTask, loop("straight"));
    const ctl = new AbortController();
    const cutOut = loop("cut").out;
    const cut = runTraining(await make({ dropout: true }), {
      ...loop("cut"),
      signal: ctl.signal,
      onMetric: (m) => m.step === stopAt && ctl.abort(),
    });
    await expect(cut).rejects.toMatchObject({ code: "cancelled" });
    expect(path.basename((await latestCheckpoint(cutOut))!)).toBe(`step-${String(stopAt).padStart(6, "0")}`);
    const resumedTask = await make({ dropout: true });
    const resumed = await runTraining(resumedTask, { ...loop("cut"), resume: true });
    expect(resumed.steps).toBe(straight.steps - stopAt);
    expect(values(resumedTask)).toEqual(values(straightTask));
    expect(metricLines(cutOut)).toEqual(metricLines(loop("straight").out));
  }, 120_000);
}
