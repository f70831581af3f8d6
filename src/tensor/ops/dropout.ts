// Inverted dropout with a seeded RNG: zeroes each element with probability p and scales the rest by
// 1/(1−p); the same mask is reused for the gradient. Identity when not training or p = 0.
import { alloc } from "../arena.js";
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
  const mask = alloc(x.size);
  rng.fillDropoutMask(mask, p, 1 / (1 - p));
  return withGrad(new Tensor(times(x.data, mask), x.shape), "dropout", [x], (g) => [times(g, mask)]);
}

function times(a: Float32Array, mask: Float32Array): Float32Array {
  const out = alloc(a.length);
  for (let i = 0; i < out.length; i++) out[i] = a[i]! * mask[i]!;
  return out;
}
