// Gradient utilities between backward and step: clipping by global L2 norm, and accumulation over
// micro-batches (backward already sums into .grad; the accumulator scales the loss and says when to step).
import { InfuseError } from "../../core/errors.js";
import type { Tensor } from "../tensor.js";

/** Scales all grads so their global L2 norm is ≤ maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let ss = 0;
  for (const p of params) {
    const g = p.grad?.data;
    if (g) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(ss);
  if (!Number.isFinite(norm)) {
    throw new InfuseError(
      "tensor.grad_not_finite",
      `clipGradNorm: global gradient norm is ${norm} over ${params.length} parameters`,
      {
        hint: "lower the learning rate or check the data for NaN/Inf; the step was not applied",
      },
    );
  }
  if (norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) {
      const g = p.grad?.data;
      if (g) for (let i = 0; i < g.length; i++) g[i]! *= s;
    }
  }
  return norm;
}

/** Counts micro-batches: scale each micro-batch loss by `lossScale`, step when `tick()` says so. */
export class GradAccumulation {
  readonly steps: number;
  private seen = 0;

  constructor(steps: number) {
    if (!Number.isInteger(steps) || steps < 1) {
      throw new InfuseError("tensor.bad_argument", `GradAccumulation: steps = ${steps}`, {
        kind: "usage",
        hint: "use a positive integer",
      });
    }
    this.steps = steps;
  }

  get lossScale(): number {
    return 1 / this.steps;
  }

  /** Call after each micro-batch's backward; true when the optimizer should step (then zero grads). */
  tick(): boolean {
    this.seen = (this.seen + 1) % this.steps;
    return this.seen === 0;
  }
}
