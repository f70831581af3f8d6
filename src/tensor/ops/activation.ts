// Activations with their derivatives: GELU (tanh approximation and exact erf form), SiLU, sigmoid,
// and SwiGLU (silu(gate)·up fused). erf's rational approximation errs < 1.2e-7, below f32 resolution.
import { alloc } from "../arena.js";
import { Tensor, withGrad } from "../tensor.js";
import { sameShape, shapeError } from "../shape.js";
import { fastPathFor } from "../kernels/kernel.js";
import { ortGelu, ortGeluBackward, ortSwiglu, ortSwigluBackward } from "../kernels/pointwise-ort.js";

function pointwise(op: string, x: Tensor, f: (v: number) => number, df: (v: number) => number): Tensor {
  const xd = x.data;
  const y = new Float32Array(x.size);
  for (let i = 0; i < y.length; i++) y[i] = f(xd[i]!);
  const size = x.size;
  return withGrad(new Tensor(y, x.shape), op, [x], (g) => {
    const gx = new Float32Array(size);
    for (let i = 0; i < gx.length; i++) gx[i] = g[i]! * df(xd[i]!);
    return [gx];
  });
}

const sigmoidOf = (v: number): number => 1 / (1 + Math.exp(-v));

/** erf(x) by Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = 1 - t * Math.exp(poly);
  return x >= 0 ? r : -r;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = 1 / Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export type GeluApproximation = "tanh" | "erf";

/** Below this many values the erf GELU stays in TypeScript. */
export const GELU_MIN_VALUES = 16 * 1024;

/** GELU: "erf" is exact (BERT; large inputs run as an onnxruntime graph), "tanh" the approximation GPT-2 and gelu_pytorch_tanh use. */
export function gelu(x: Tensor, approximate: GeluApproximation = "erf"): Tensor {
  if (approximate === "tanh") {
    return pointwise(
      "gelu_tanh",
      x,
      (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))),
      (v) => {
        const t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
        return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
      },
    );
  }
  if (fastPathFor(x.size, GELU_MIN_VALUES) === "ort") {
    const xd = x.data;
    const y = new Float32Array(xd.length);
    ortGelu(xd, y);
    return withGrad(new Tensor(y, x.shape), "gelu_erf", [x], (g) => {
      const gx = new Float32Array(g.length);
      ortGeluBackward(xd, g, gx);
      return [gx];
    });
  }
  return pointwise(
    "gelu_erf",
    x,
    (v) => 0.5 * v * (1 + erf(v * INV_SQRT_2)),
    (v) => 0.5 * (1 + erf(v * INV_SQRT_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v),
  );
}

/** SiLU (swish): x·σ(x), the gate activation of Llama's MLP. Loops are written out: it is hot. */
export function silu(x: Tensor): Tensor {
  const xd = x.data;
  const y = new Float32Array(xd.length);
  for (let i = 0; i < xd.length; i++) y[i] = xd[i]! / (1 + Math.exp(-xd[i]!));
  return withGrad(new Tensor(y, x.shape), "silu", [x], (g) => {
    // d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x)))
    const gx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      const v = xd[i]!;
      const sg = 1 / (1 + Math.exp(-v));
      gx[i] = g[i]! * sg * (1 + v * (1 - sg));
    }
    return [gx];
  });
}

export function sigmoid(x: Tensor): Tensor {
  return pointwise("sigmoid", x, sigmoidOf, (v) => {
    const s = sigmoidOf(v);
    return s * (1 - s);
  });
}

/** Below this many values the SwiGLU loops stay in TypeScript. */
export const SWIGLU_MIN_VALUES = 64 * 1024;

/**
 * SwiGLU: silu(gate)·up, Llama's MLP activation, as one op (one pass forward, one backward; keeps
 * gate and up only). Large inputs run as onnxruntime graphs on every compute thread.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (!sameShape(gate.shape, up.shape)) {
    throw shapeError("swiglu", "gate and up must have the same shape", [gate.shape, up.shape], "pass both projections");
  }
  const [gd, ud] = [gate.data, up.data];
  const ort = fastPathFor(gd.length, SWIGLU_MIN_VALUES) === "ort";
  const y = alloc(gd.length);
  if (ort) ortSwiglu(gd, ud, y);
  else for (let i = 0; i < gd.length; i++) y[i] = (gd[i]! / (1 + Math.exp(-gd[i]!))) * ud[i]!;
  return withGrad(new Tensor(y, gate.shape), "swiglu", [gate, up], (g) => {
    const dg = alloc(g.length);
    const du = alloc(g.length);
    if (ort) ortSwigluBackward(gd, ud, g, dg, du);
    else {
      for (let i = 0; i < g.length; i++) {
        // d silu(v)/dv = σ(v)·(1 + v·(1 − σ(v)))
        const v = gd[i]!;
        const sg = 1 / (1 + Math.exp(-v));
        du[i] = g[i]! * v * sg;
        dg[i] = g[i]! * ud[i]! * sg * (1 + v * (1 - sg));
      }
    }
    return [dg, du];
  });
}
