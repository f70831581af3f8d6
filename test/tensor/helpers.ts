// Test helpers for the tensor engine: seeded random tensors and a one-line gradient check.
import { expect } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng, randn } from "../../src/tensor/rng.js";
import { gradcheck, type GradcheckOptions } from "../../src/tensor/gradcheck.js";

const rng = new Rng(1234);

export function rand(shape: number[], requiresGrad = true, std = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(randn(rng, n, std), shape, requiresGrad);
}

/** Asserts that fn's backward matches finite differences for every input needing grad. */
export function expectGrads(fn: (xs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): void {
  const r = gradcheck(fn, inputs, options);
  expect(r.ok, `gradcheck failed: ${JSON.stringify(r.worst)} maxError=${r.maxError}`).toBe(true);
}

export function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / Math.max(scale, 1e-30);
}
