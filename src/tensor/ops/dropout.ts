// Inverted dropout with a seeded RNG: zeroes each element with probability p and scales the rest by
// 1/(1−p); the same mask is reused for the gradient. Identity when not training or p = 0.
import { InfuseError } from "../../core/errors.js";
import { Tensor, withGrad } from "../tensor.js";
import type { Rng } from "../rng.js";

export function dropout(x: Tensor, p: number, rng: Rng, training = true): Tensor {
  if (!(p >= 0 && p < 1)) {
    throw new InfuseError("tensor.bad_argument", `dropout: p = ${p} is outside [0, 1)`, {
      kind: "input",
      hint: "use a probability such as 0.1",
    });
  }
  if (!training || p === 0) return x;
  const keep = 1 / (1 - p);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() >= p ? keep : 0;
  const xd = x.data;
  const y = new Float32Array(x.size);
  for (let i = 0; i < y.length; i++) y[i] = xd[i]! * mask[i]!;
  return withGrad(new Tensor(y, x.shape), "dropout", [x], (g) => [g.map((v, i) => v * mask[i]!)]);
}
