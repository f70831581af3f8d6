// Finite-difference gradient check for any op: compares backward() with central differences of
// L = Σ w·f(x) for a fixed random w, accumulated in float64. Meant for small shapes (2 calls per element).
import { noGrad, type Tensor } from "./tensor.js";
import { Rng } from "./rng.js";

export interface GradcheckOptions {
  eps?: number;
  /** Allowed |analytic − numeric| ≤ atol + rtol·max|numeric| (per input). */
  atol?: number;
  rtol?: number;
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  maxError: number;
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

/** Checks d(Σ w·fn(inputs))/d(inputs) for every input with requiresGrad. */
export function gradcheck(
  fn: (xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  options: GradcheckOptions = {},
): GradcheckResult {
  const eps = options.eps ?? 1e-2;
  const atol = options.atol ?? 1e-3;
  const rtol = options.rtol ?? 1e-2;
  const rng = new Rng(options.seed ?? 7);
  const probe = noGrad(() => fn(inputs));
  const w = Float64Array.from({ length: probe.size }, () => rng.normal());
  const lossOf = (): number => {
    const out = noGrad(() => fn(inputs)).data;
    let acc = 0;
    for (let i = 0; i < out.length; i++) acc += w[i]! * out[i]!;
    return acc;
  };

  for (const x of inputs) x.grad = null;
  const out = fn(inputs);
  out.backward({ grad: Float32Array.from(w) });

  let worst: GradcheckResult["worst"] = null;
  let maxError = 0;
  let ok = true;
  inputs.forEach((x, which) => {
    if (!x.requiresGrad) return;
    const analytic = x.grad?.data ?? new Float32Array(x.size);
    const numeric = new Float64Array(x.size);
    const xd = x.data;
    for (let i = 0; i < x.size; i++) {
      const orig = xd[i]!;
      xd[i] = orig + eps;
      const up = lossOf();
      xd[i] = orig - eps;
      const down = lossOf();
      xd[i] = orig;
      numeric[i] = (up - down) / (2 * eps);
    }
    const scale = numeric.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < x.size; i++) {
      const err = Math.abs(analytic[i]! - numeric[i]!);
      if (err > atol + rtol * scale) ok = false;
      if (err > maxError) {
        maxError = err;
        worst = { input: which, index: i, analytic: analytic[i]!, numeric: numeric[i]! };
      }
    }
  });
  return { ok, maxError, worst };
}
