// The step arena (arena.ts) and the dequantized-weight cache (qmatmul-train.ts): pooled arrays are handed
// out again after a scope or a recycle; a graph run in scopes gets the gradients it gets without them,
// step after step (no array reused while still read); a quantized base through the cache gives the
// tiled path's values and gradients, and lowRankLinear over it equals it over the dequantized f32 W.
import { afterEach, describe, expect, it } from "vitest";
import { alloc, arenaScope, clearArena, inBackward, recycle } from "../../src/tensor/arena.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { add, mul } from "../../src/tensor/ops/elementwise.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { rmsNorm } from "../../src/tensor/ops/norm.js";
import { swiglu } from "../../src/tensor/ops/activation.js";
import { lowRankLinear } from "../../src/tensor/ops/low-rank-linear.js";
import { quantize } from "../../src/tensor/quant/formats.js";
import { dequantCacheable, dequantized, qmatmul, setDequantCacheValues } from "../../src/tensor/quant/qmatmul-train.js";
import { reshape } from "../../src/tensor/ops/layout.js";
import { randn, Rng } from "../../src/tensor/rng.js";

/** A (shape) tensor of normal values from its own seed (no grad). */
function rand(shape: number[], seed: number): Tensor {
  return new Tensor(
    randn(
      new Rng(seed),
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
  );
}

afterEach(() => clearArena());

describe("arena", () => {
  it("hands a nested scope's arrays out again in the next one, and new arrays outside any scope", () => {
    arenaScope(() => {
      const first = arenaScope(() => alloc(4096));
      expect(arenaScope(() => alloc(4096))).toBe(first);
      const kept = arenaScope(
        () =>
          arenaScope(
            () => alloc(2048),
            (a) => [a],
          ), // the inner scope keeps it: the middle one owns it now
      );
      expect(arenaScope(() => alloc(2048))).toBe(kept);
    });
    expect(alloc(4096)).not.toBe(alloc(4096)); // no scope: fresh arrays
  });

  it("pools in an outermost scope only while backward runs (a forward's activations stay the collector's)", () => {
    const forward = arenaScope(() => alloc(4096));
    expect(arenaScope(() => alloc(4096))).not.toBe(forward);
    const grad = arenaScope(() => inBackward(() => alloc(4096)));
    expect(arenaScope(() => inBackward(() => alloc(4096)))).toBe(grad);
  });

  it("lets go of its arrays on clearArena (as tune() does when training ends)", () => {
    const first = arenaScope(() => inBackward(() => alloc(4096)));
    clearArena();
    expect(arenaScope(() => inBackward(() => alloc(4096)))).not.toBe(first);
  });

  it("recycles an array inside its scope", () => {
    arenaScope(() =>
      inBackward(() => {
        const a = alloc(8192);
        recycle(a);
        expect(alloc(8192)).toBe(a);
        const b = alloc(8192); // a is handed out again: b is another array
        expect(b).not.toBe(a);
      }),
    );
  });

  it("gives the same gradients in scopes as without, step after step", () => {
    // x feeds three ops (its gradient is a sum), add hands one gradient to both inputs, swiglu and
    // rmsNorm take pooled arrays: every reuse path of the backward pass
    const [x0, w0, n0] = [rand([64, 48], 1), rand([32, 48], 2), rand([32], 3)];
    const step = () => {
      const x = new Tensor(x0.data.slice(), x0.shape, true);
      const w = new Tensor(w0.data.slice(), w0.shape, true);
      const h = matmul(x, w, { transB: true }); // (64, 32)
      const s = add(h, h);
      const y = rmsNorm(swiglu(s, mul(h, h)), n0);
      const z = add(y, matmul(x, w, { transB: true }));
      const loss = matmul(reshape(z, [1, 64 * 32]), new Tensor(rand([64 * 32], 4).data, [64 * 32, 1]));
      loss.backward();
      return [x.grad!.data.slice(), w.grad!.data.slice()];
    };
    const plain = step();
    for (let i = 0; i < 3; i++) {
      const scoped = arenaScope(step);
      expect(scoped[0]).toEqual(plain[0]);
      expect(scoped[1]).toEqual(plain[1]);
    }
  });
});

describe("dequantized-weight cache", () => {
  afterEach(() => setDequantCacheValues(1 << 22));

  it("serves a hit from the same array and reuses an evicted weight's storage", () => {
    setDequantCacheValues(64 * 64);
    const a = quantize("q8_0", rand([64, 64], 5).data, [64, 64]);
    const b = quantize("q8_0", rand([64, 64], 6).data, [64, 64]);
    const da = dequantized(a);
    expect(dequantized(a)).toBe(da);
    expect(Array.from(da)).toEqual(Array.from(a.dequantize()));
    const db = dequantized(b); // a evicted: its storage holds b now
    expect(db).toBe(da);
    expect(Array.from(db)).toEqual(Array.from(b.dequantize()));
    expect(dequantCacheable(quantize("q8_0", rand([65, 64], 7).data, [65, 64]))).toBe(false);
  });

  it("qmatmul through the cache equals the tiled path, forward and x's gradient", () => {
    const w = quantize("q4_0", rand([40, 64], 8).data, [40, 64]);
    const seed = rand([3, 40], 9).data;
    const run = (cache: number) => {
      setDequantCacheValues(cache);
      const x = new Tensor(rand([3, 64], 10).data, [3, 64], true);
      const y = qmatmul(x, w);
      y.backward({ grad: seed });
      return [Array.from(y.data), Array.from(x.grad!.data)];
    };
    expect(run(1 << 22)).toEqual(run(0));
  });

  it("lowRankLinear over a quantized W equals it over the dequantized f32 W", () => {
    const wq = quantize("q4_0", rand([24, 32], 11).data, [24, 32]);
    const w32 = new Tensor(wq.dequantize(), [24, 32]);
    const seed = rand([2, 5, 24], 12).data;
    const mask = Float32Array.from({ length: 2 * 5 * 32 }, (_, i) => (i % 7 === 0 ? 0 : 1.25));
    const run = (w: typeof wq | Tensor) => {
      const x = new Tensor(rand([2, 5, 32], 13).data, [2, 5, 32], true);
      const a = new Tensor(rand([4, 32], 14).data, [4, 32], true);
      const b = new Tensor(rand([24, 4], 15).data, [24, 4], true);
      const y = arenaScope(() => {
        const out = lowRankLinear(x, w, a, b, 2, mask);
        out.backward({ grad: seed });
        return Array.from(out.data);
      });
      return [y, ...[x, a, b].map((t) => Array.from(t.grad!.data))];
    };
    expect(run(wq)).toEqual(run(w32));
  });
});
