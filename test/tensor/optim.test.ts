import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { AdamW } from "../../src/tensor/optim/adamw.js";
import { Sgd } from "../../src/tensor/optim/sgd.js";
import { cosineSchedule, linearSchedule } from "../../src/tensor/optim/schedule.js";
import { clipGradNorm, GradAccumulation } from "../../src/tensor/optim/grads.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { mean, sum } from "../../src/tensor/ops/reduce.js";
import { mul, square, sub } from "../../src/tensor/ops/elementwise.js";
import { slice } from "../../src/tensor/ops/layout.js";
import { rand } from "./helpers.js";

describe("AdamW", () => {
  it("follows the update rule with bias correction and decoupled decay (two steps by hand)", () => {
    const p = Tensor.from([1, -2], [2], true);
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.5 });
    const grads = [
      [0.5, -1],
      [0.25, 2],
    ];
    const expected = [1, -2];
    const m = [0, 0];
    const v = [0, 0];
    grads.forEach((g, s) => {
      p.grad = Tensor.from(g, [2]);
      opt.step();
      const t = s + 1;
      for (let j = 0; j < 2; j++) {
        m[j] = 0.9 * m[j]! + 0.1 * g[j]!;
        v[j] = 0.999 * v[j]! + 0.001 * g[j]! ** 2;
        const upd = m[j]! / (1 - 0.9 ** t) / (Math.sqrt(v[j]! / (1 - 0.999 ** t)) + 1e-8);
        expected[j] = expected[j]! * (1 - 0.1 * 0.5) - 0.1 * upd;
      }
    });
    expect(p.data[0]).toBeCloseTo(expected[0]!, 6);
    expect(p.data[1]).toBeCloseTo(expected[1]!, 6);
  });

  it("fits a linear regression, and a saved state resumes bit-identically", () => {
    const x = rand([32, 4], false);
    const wTrue = Tensor.from([1, -2, 0.5, 3], [4, 1]);
    const y = matmul(x, wTrue);
    const run = (w: Tensor, opt: AdamW, steps: number) => {
      let loss = 0;
      for (let i = 0; i < steps; i++) {
        opt.zeroGrad();
        const l = mean(square(sub(matmul(x, w), y)));
        l.backward();
        opt.step();
        loss = l.item();
      }
      return loss;
    };
    const w = Tensor.zeros([4, 1], true);
    const opt = new AdamW([w], { lr: 0.05, weightDecay: 0 });
    const loss = run(w, opt, 400);
    expect(loss).toBeLessThan(1e-3);

    const a = Tensor.zeros([4, 1], true);
    const optA = new AdamW([a], { lr: 0.05, weightDecay: 0 });
    run(a, optA, 10);
    const saved = optA.saveState();
    const b = new Tensor(a.data.slice(), [4, 1], true);
    const optB = new AdamW([b], { lr: 0.05, weightDecay: 0 });
    optB.loadState(saved);
    run(a, optA, 5);
    run(b, optB, 5);
    expect(b.toArray()).toEqual(a.toArray());
    expect(() => new Sgd([b], { lr: 1 }).loadState(saved)).toThrow(/state is for adamw, not sgd/);
    expect(() => new AdamW([Tensor.zeros([3], true)], { lr: 1 }).loadState(saved)).toThrow(
      /m\.0 has 4 values for parameter \(3\)/,
    );
  });

  it("refuses parameters that do not require grad", () => {
    expect(() => new AdamW([Tensor.zeros([2])], { lr: 1 })).toThrow(/does not require grad/);
  });
});

describe("SGD", () => {
  it("applies momentum and weight decay as PyTorch does", () => {
    const p = Tensor.from([1], [1], true);
    const opt = new Sgd([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
    p.grad = Tensor.from([1], [1]);
    opt.step(); // d = 1 + 0.1 = 1.1; buf = 1.1; p = 1 − 0.11
    expect(p.data[0]).toBeCloseTo(0.89, 6);
    p.grad = Tensor.from([1], [1]);
    opt.step(); // d = 1 + 0.089 = 1.089; buf = 0.99 + 1.089 = 2.079
    expect(p.data[0]).toBeCloseTo(0.89 - 0.2079, 6);
  });
});

describe("schedules", () => {
  it("warm up linearly, then decay linearly or by cosine to the floor", () => {
    const lin = linearSchedule({ peakLr: 1, warmupSteps: 4, totalSteps: 14 });
    expect([0, 1, 3].map(lin)).toEqual([0.25, 0.5, 1]);
    expect(lin(9)).toBeCloseTo(0.5, 9);
    expect(lin(14)).toBe(0);
    const cos = cosineSchedule({ peakLr: 2, warmupSteps: 0, totalSteps: 10, minLr: 0.2 });
    expect(cos(0)).toBeCloseTo(2, 9);
    expect(cos(5)).toBeCloseTo(1.1, 9);
    expect(cos(10)).toBeCloseTo(0.2, 9);
    expect(() => linearSchedule({ peakLr: 1, warmupSteps: 5, totalSteps: 3 })).toThrow(/inconsistent/);
  });
});

describe("gradient clipping and accumulation", () => {
  it("clips by the global norm across parameters and returns the norm before", () => {
    const a = Tensor.zeros([2], true);
    const b = Tensor.zeros([1], true);
    a.grad = Tensor.from([3, 0], [2]);
    b.grad = Tensor.from([4], [1]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 9);
    expect(a.grad.data[0]).toBeCloseTo(0.6, 5);
    expect(b.grad.data[0]).toBeCloseTo(0.8, 5);
    b.grad = Tensor.from([NaN], [1]);
    expect(() => clipGradNorm([a, b], 1)).toThrow(/global gradient norm is NaN/);
  });

  it("two accumulated half-batches give the full-batch gradient", () => {
    const x = rand([8, 3], false);
    const w = rand([3, 2]);
    const loss = (xs: Tensor) => sum(mul(matmul(xs, w), matmul(xs, w)));
    loss(x).backward();
    const full = w.grad!.data.slice();
    w.grad = null;
    const acc = new GradAccumulation(2);
    const ticks: boolean[] = [];
    for (const [s, e] of [
      [0, 4],
      [4, 8],
    ] as const) {
      const l = loss(slice(x, 0, s, e));
      // sum-loss here, so the loss scale is not applied; a mean loss would multiply by acc.lossScale
      l.backward();
      ticks.push(acc.tick());
    }
    expect(ticks).toEqual([false, true]);
    w.grad!.data.forEach((g, i) => expect(g).toBeCloseTo(full[i]!, 4));
  });
});
