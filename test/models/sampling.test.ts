// Top-k candidates from one heap pass agree with a full sort of the vocabulary (ties by id, masked
// -Infinity logits), and the sampler's draws stay inside them.
import { describe, expect, it } from "vitest";
import { Sampler, topCandidates } from "../../src/models/sampling.js";
import { Rng } from "../../src/tensor/rng.js";

/** The top k ids by a full sort: descending logit, ties by ascending id. */
function bySort(l: Float32Array, k: number): number[] {
  const ids = Array.from(l.keys()).sort((a, b) => l[b]! - l[a]! || a - b);
  return k > 0 ? ids.slice(0, k) : ids;
}

describe("topCandidates", () => {
  it("gives the full sort's top k, ties and masked logits included", () => {
    const rng = new Rng(3);
    for (const [v, levels] of [
      [1000, 0],
      [1000, 7],
      [37, 3],
    ] as const) {
      // levels > 0: few distinct values, so the k-th largest is tied many times over
      const l = Float32Array.from({ length: v }, () => {
        const u = rng.uniform();
        return levels ? Math.floor(u * levels) : (u - 0.5) * 20;
      });
      for (let i = 0; i < v; i += 5) if (rng.uniform() < 0.3) l[i] = -Infinity;
      for (const k of [1, 2, 5, 40, v - 1, v, 0]) expect(topCandidates(l, k)).toEqual(bySort(l, k));
    }
    const fewFinite = new Float32Array(50).fill(-Infinity);
    fewFinite[7] = 1;
    fewFinite[3] = 2;
    expect(topCandidates(fewFinite, 5)).toEqual(bySort(fewFinite, 5));
  });

  it("draws only among the top k", () => {
    const rng = new Rng(5);
    const l = Float32Array.from({ length: 5000 }, () => rng.normal() * 3);
    const top = new Set(topCandidates(l, 10));
    const sampler = new Sampler({ temperature: 5, topK: 10, topP: 1, minP: 0, seed: 9 });
    const drawn = new Set(Array.from({ length: 300 }, () => sampler.sample(l)));
    for (const id of drawn) expect(top.has(id)).toBe(true);
    expect(drawn.size).toBeGreaterThan(5);
  });
});
