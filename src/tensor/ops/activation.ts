// Activations with their derivatives: GELU (tanh approximation and exact erf form), SiLU, sigmoid.
// erf uses a rational approximation with |error| < 1.2e-7, below f32 resolution near 1.
import { Tensor, withGrad } from "../tensor.js";

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

/** GELU: "erf" is exact (BERT), "tanh" the approximation GPT-2 and gelu_pytorch_tanh use. */
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
