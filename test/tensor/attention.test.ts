import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { llama3InvFreq, rope, ropeInvFreq } from "../../src/tensor/ops/rope.js";
import { attention, causalMask, paddingMask } from "../../src/tensor/ops/attention.js";
import { permute, reshape } from "../../src/tensor/ops/layout.js";
import { expectGrads, maxRelDiff, rand } from "./helpers.js";

/** Float64 attention by loops: out[b,h,i] = Σ_j softmax_j(q·k/√D + mask) v[j], kv head h / group. */
function naiveAttention(q: Tensor, k: Tensor, v: Tensor, causal: boolean, keep?: number[][]): Float64Array {
  const [B, Hq, T, D] = q.shape as number[] as [number, number, number, number];
  const [, Hkv, S] = k.shape as number[] as [number, number, number];
  const out = new Float64Array(B * Hq * T * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < T; i++) {
        const w: number[] = [];
        for (let j = 0; j < S; j++) {
          let dot = 0;
          for (let c = 0; c < D; c++)
            dot += q.data[((b * Hq + h) * T + i) * D + c]! * k.data[((b * Hkv + kh) * S + j) * D + c]!;
          const hidden = (causal && j > i + S - T) || (keep && !keep[b]![j]);
          w.push(hidden ? -Infinity : dot / Math.sqrt(D));
        }
        const m = Math.max(...w);
        const e = w.map((x) => Math.exp(x - m));
        const z = e.reduce((p, c) => p + c, 0);
        for (let j = 0; j < S; j++)
          for (let c = 0; c < D; c++)
            out[((b * Hq + h) * T + i) * D + c]! += (e[j]! / z) * v.data[((b * Hkv + kh) * S + j) * D + c]!;
      }
    }
  return out;
}

describe("attention", () => {
  it("grouped-query attention with a causal mask equals the float64 loop", () => {
    const q = rand([2, 4, 5, 3], false);
    const k = rand([2, 2, 5, 3], false);
    const v = rand([2, 2, 5, 3], false);
    const ours = attention(q, k, v, { causal: true });
    expect(ours.shape).toEqual([2, 4, 5, 3]);
    expect(maxRelDiff(ours.data, Float32Array.from(naiveAttention(q, k, v, true)))).toBeLessThan(1e-5);
  });

  it("a padding mask hides keys per sequence; decoding with S > T offsets the causal mask", () => {
    const q = rand([2, 2, 3, 4], false);
    const k = rand([2, 1, 3, 4], false);
    const v = rand([2, 1, 3, 4], false);
    const keep = [
      [1, 1, 1],
      [0, 1, 1],
    ];
    const mask = paddingMask(Int32Array.from(keep.flat()), 2, 3);
    const ours = attention(q, k, v, { mask });
    expect(maxRelDiff(ours.data, Float32Array.from(naiveAttention(q, k, v, false, keep)))).toBeLessThan(1e-5);
    const m = causalMask(2, 4);
    expect(Array.from(m.data)).toEqual([0, 0, 0, -Infinity, 0, 0, 0, 0]);
  });

  it("gradients for q, k and v", () => {
    expectGrads(
      ([q, k, v]) => attention(q!, k!, v!, { causal: true }),
      [rand([1, 2, 3, 2]), rand([1, 1, 3, 2]), rand([1, 1, 3, 2])],
    );
  });

  it("names the shapes when heads do not group", () => {
    expect(() => attention(rand([1, 3, 2, 4]), rand([1, 2, 2, 4]), rand([1, 2, 2, 4]))).toThrow(
      /attention:.*\(1, 3, 2, 4\), \(1, 2, 2, 4\)/,
    );
  });
});

describe("rope", () => {
  it("position 0 is the identity and scores depend only on relative position", () => {
    const x = rand([1, 1, 1, 8], false);
    expect(rope(x, Int32Array.of(0), { layout: "half" }).toArray()).toEqual(x.toArray());
    for (const layout of ["half", "interleaved"] as const) {
      const q = rand([1, 1, 1, 8], false);
      const k = rand([1, 1, 1, 8], false);
      const dot = (m: number, n: number): number => {
        const a = rope(q, Int32Array.of(m), { layout }).data;
        const b = rope(k, Int32Array.of(n), { layout }).data;
        return a.reduce((s, v, i) => s + v * b[i]!, 0);
      };
      expect(dot(7, 3)).toBeCloseTo(dot(14, 10), 4);
    }
  });

  it("interleaved rope equals half-split rope on de-interleaved dims (the GGUF Q/K permutation)", () => {
    const x = rand([2, 3, 4, 8], false); // (B, H, T, D)
    const pos = Int32Array.of(0, 5, 9, 100);
    const inter = rope(x, pos, { layout: "interleaved", base: 10000 });
    // de-interleave: (…, D/2, 2) → (…, 2, D/2)
    const deint = (t: Tensor) => reshape(permute(reshape(t, [2, 3, 4, 4, 2]), [0, 1, 2, 4, 3]), [2, 3, 4, 8]);
    const half = rope(deint(x), pos, { layout: "half", base: 10000 });
    expect(maxRelDiff(deint(inter).data, half.data)).toBeLessThan(1e-6);
  });

  it("follows a positions array refilled in place and new frequencies (its angle tables are cached)", () => {
    const x = rand([1, 2, 3, 4]);
    const invFreq = ropeInvFreq(4, 100);
    const pos = Int32Array.of(0, 1, 2);
    const first = rope(x, pos, { layout: "half", invFreq }).data;
    pos.set([5, 9, 2]);
    const refilled = rope(x, pos, { layout: "half", invFreq }).data;
    expect(refilled).toEqual(rope(x, Int32Array.of(5, 9, 2), { layout: "half", invFreq }).data);
    expect(refilled).not.toEqual(first);
    const other = ropeInvFreq(4, 10000);
    expect(rope(x, pos, { layout: "half", invFreq: other }).data).toEqual(
      rope(x, Int32Array.of(5, 9, 2), { layout: "half", invFreq: ropeInvFreq(4, 10000) }).data,
    );
  });

  it("rotates by pos·θ_i: one pair checked by hand; partial rotary leaves the tail", () => {
    const x = Tensor.from([1, 0, 0, 0, 5, 6], [1, 1, 1, 6]);
    const y = rope(x, Int32Array.of(3), { layout: "interleaved", rotaryDims: 4 });
    expect(y.data[0]).toBeCloseTo(Math.cos(3), 6);
    expect(y.data[1]).toBeCloseTo(Math.sin(3), 6);
    expect([y.data[4], y.data[5]]).toEqual([5, 6]);
    expect(ropeInvFreq(4, 10000)[1]).toBeCloseTo(0.01, 8);
  });

  it("Llama 3 scaling keeps high frequencies, divides low ones by the factor, blends the band between", () => {
    const scaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 };
    const plain = ropeInvFreq(128, 500000);
    const scaled = llama3InvFreq(128, 500000, scaling);
    const wavelen = (f: number) => (2 * Math.PI) / f;
    let medium = 0;
    plain.forEach((f, i) => {
      const w = wavelen(f);
      if (w < 8192 / 4) expect(scaled[i]).toBe(f);
      else if (w > 8192) expect(scaled[i]).toBeCloseTo(f / 8, 12);
      else {
        medium++;
        expect(scaled[i]!).toBeGreaterThan(f / 8);
        expect(scaled[i]!).toBeLessThan(f);
      }
    });
    expect(medium).toBeGreaterThan(0);
  });

  it("gradients in both layouts, with per-sequence positions", () => {
    for (const layout of ["half", "interleaved"] as const) {
      expectGrads(([x]) => rope(x!, Int32Array.of(1, 2, 3, 7), { layout, base: 100 }), [rand([2, 1, 2, 4])]);
    }
  });
});
