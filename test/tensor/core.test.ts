import { describe, expect, it } from "vitest";
import { Tensor, noGrad } from "../../src/tensor/tensor.js";
import { add, div, exp, log, mul, rsqrt, sqrt, sub } from "../../src/tensor/ops/elementwise.js";
import { max, mean, sum } from "../../src/tensor/ops/reduce.js";
import { concat, permute, reshape, slice, transpose } from "../../src/tensor/ops/layout.js";
import { embedding, scatterAdd } from "../../src/tensor/ops/gather.js";
import { InfuseError } from "../../src/core/errors.js";
import { expectGrads, rand } from "./helpers.js";

describe("autograd core", () => {
  it("accumulates gradients through a shared input", () => {
    const x = Tensor.from([1, 2, 3], [3], true);
    const y = sum(add(mul(x, x), x)); // Σ x² + x
    y.backward();
    expect(y.item()).toBe(1 + 4 + 9 + 6);
    expect(x.grad?.toArray()).toEqual([3, 5, 7]);
  });

  it("records nothing inside noGrad", () => {
    const x = Tensor.from([1, 2], [2], true);
    const y = noGrad(() => mul(x, x));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
  });

  it("frees the graph after backward and refuses released tensors", () => {
    const x = Tensor.from([1, 2], [2], true);
    const h = exp(x);
    const y = sum(h);
    y.backward();
    expect(h.gradFn).toBeNull();
    h.release();
    expect(() => h.data).toThrow(/released/);
  });

  it("drops a frozen tensor's values only where a reloader reads them back, on the next read", () => {
    const plain = Tensor.from([1, 2, 3, 4], [2, 2]);
    expect(plain.dropValues()).toBe(false); // nothing to read them back from: they stay
    expect(Array.from(plain.data)).toEqual([1, 2, 3, 4]);

    let reads = 0;
    const w = Tensor.from([1, 2, 3, 4], [2, 2]);
    w.setReloader(() => (reads++, Float32Array.of(1, 2, 3, 4)));
    expect(w.dropValues()).toBe(true);
    expect([w.resident, w.size, reads]).toEqual([false, 4, 0]);
    expect(Array.from(w.data)).toEqual([1, 2, 3, 4]);
    expect([w.resident, reads]).toEqual([true, 1]);
    expect(w.data.length).toBe(4); // resident again: no second read
    expect(reads).toBe(1);

    // rows of a dropped matrix: only those values are read back, and it stays dropped
    const table = Tensor.from([1, 2, 3, 4, 5, 6], [3, 2]);
    const asked: [number | undefined, number | undefined][] = [];
    table.setReloader((start, count) => {
      asked.push([start, count]);
      const all = Float32Array.of(1, 2, 3, 4, 5, 6);
      return start === undefined ? all : all.slice(start, start + count!);
    });
    table.dropValues();
    const row = new Float32Array(2);
    table.readRows(2, 3, row);
    expect([Array.from(row), asked, table.resident]).toEqual([[5, 6], [[4, 2]], false]);
    table.readRows(0, 1, row); // resident tensors copy from memory
    expect(Array.from(row)).toEqual([1, 2]);

    const trained = Tensor.from([1, 2], [2], true);
    trained.setReloader(() => Float32Array.of(1, 2));
    expect(trained.dropValues()).toBe(false); // a parameter's values are its own

    const short = Tensor.from([1, 2, 3, 4], [2, 2]);
    short.setReloader(() => Float32Array.of(1, 2));
    short.dropValues();
    expect(() => short.data).toThrow(/reloaded 2 values for shape \(2, 2\), expected 4/);
  });

  it("raises wrong_dtype for values that are not f32 and ids that are not int32", () => {
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return e instanceof InfuseError ? `${e.code}: ${e.message}` : String(e);
      }
    };
    expect(code(() => new Tensor(new Float64Array(4) as unknown as Float32Array, [2, 2]))).toMatch(
      /^tensor\.wrong_dtype: Tensor: values must be a Float32Array, got Float64Array for shape \(2, 2\)/,
    );
    expect(code(() => embedding(rand([4, 2]), Float32Array.of(1) as unknown as Int32Array))).toMatch(
      /^tensor\.wrong_dtype: embedding: ids must be an Int32Array \(table \(4, 2\)\)/,
    );
  });

  it("raises grad_not_finite naming the op and shapes", () => {
    const x = Tensor.from([0, 1], [2], true);
    const y = sum(log(x));
    const err = (() => {
      try {
        y.backward();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InfuseError);
    expect((err as InfuseError).code).toBe("tensor.grad_not_finite");
    expect((err as InfuseError).message).toMatch(/log backward.*\(2\)/);
  });
});

describe("elementwise ops with broadcasting", () => {
  it("computes broadcast values", () => {
    const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = Tensor.from([10, 20], [2, 1]);
    expect(add(a, b).toArray()).toEqual([11, 12, 13, 24, 25, 26]);
    expect(add(a, Tensor.from([1, 1, 1], [3])).toArray()).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it("raises shape_mismatch naming the op and the shapes", () => {
    expect(() => add(rand([2, 3]), rand([4]))).toThrow(
      /add: cannot broadcast dim 3 against 4 \(shapes \(2, 3\), \(4\)\)/,
    );
  });

  it.each([
    ["add", add],
    ["sub", sub],
    ["mul", mul],
  ] as const)("%s gradients match finite differences under broadcasting", (_name, op) => {
    expectGrads(([a, b]) => op(a!, b!), [rand([2, 3, 4]), rand([3, 1])]);
    expectGrads(([a, b]) => op(a!, b!), [rand([1, 4]), rand([3, 1])]);
  });

  it("div, exp, log, sqrt, rsqrt gradients", () => {
    const pos = () =>
      new Tensor(
        rand([2, 3], false).data.map((v) => Math.abs(v) + 0.5),
        [2, 3],
        true,
      );
    expectGrads(([a, b]) => div(a!, b!), [rand([2, 3]), pos()]);
    expectGrads(([a]) => exp(a!), [rand([2, 3])]);
    expectGrads(([a]) => log(a!), [pos()]);
    expectGrads(([a]) => sqrt(a!), [pos()]);
    expectGrads(([a]) => rsqrt(a!), [pos()]);
  });
});

describe("reductions", () => {
  it("sum/mean/max along axes with keepDims", () => {
    const x = Tensor.from([1, 5, 3, 4, 2, 6], [2, 3]);
    expect(sum(x, { axis: 1 }).toArray()).toEqual([9, 12]);
    expect(mean(x, { axis: 0 }).toArray()).toEqual([2.5, 3.5, 4.5]);
    expect(max(x, { axis: -1, keepDims: true }).shape).toEqual([2, 1]);
    expect(max(x).item()).toBe(6);
  });

  it("gradients along every axis", () => {
    for (const axis of [0, 1, 2]) {
      expectGrads(([a]) => sum(a!, { axis }), [rand([2, 3, 4])]);
      expectGrads(([a]) => mean(a!, { axis, keepDims: true }), [rand([2, 3, 4])]);
      // Distinct values 0.1 apart, so a finite-difference step never swaps the maximum.
      const spaced = Tensor.from(
        Array.from({ length: 24 }, (_, i) => ((i * 7) % 24) * 0.1),
        [2, 3, 4],
        true,
      );
      expectGrads(([a]) => max(a!, { axis }), [spaced]);
    }
  });
});

describe("layout ops", () => {
  it("permute moves values and its gradient inverts it", () => {
    const x = Tensor.from([0, 1, 2, 3, 4, 5], [1, 2, 3]);
    expect(permute(x, [2, 0, 1]).toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    expectGrads(([a]) => permute(a!, [2, 0, 1, 3]), [rand([2, 3, 4, 2])]);
    expectGrads(([a]) => transpose(a!), [rand([3, 4])]);
  });

  it("reshape shares storage; slice and concat invert each other", () => {
    const x = rand([2, 6], false);
    expect(reshape(x, [3, -1]).data).toBe(x.data);
    const parts = [slice(x, 1, 0, 2), slice(x, 1, 2, 6)];
    expect(concat(parts, 1).toArray()).toEqual(x.toArray());
    expectGrads(([a]) => slice(reshape(a!, [2, 3, 2]), 1, 1, 3), [rand([2, 6])]);
    expectGrads(([a, b]) => concat([a!, b!], 0), [rand([2, 3]), rand([1, 3])]);
    expect(() => reshape(x, [5, -1])).toThrow(/reshape/);
  });

  it("embedding lookup gathers rows; its gradient is a scatter-add", () => {
    const table = rand([5, 3]);
    const ids = Int32Array.from([4, 0, 4, 2]);
    const e = embedding(table, ids, [2, 2]);
    expect(e.shape).toEqual([2, 2, 3]);
    expect(Array.from(e.data.subarray(0, 3))).toEqual(Array.from(table.data.subarray(12, 15)));
    expectGrads(([t]) => embedding(t!, ids), [table]);
    expectGrads(([b, s]) => scatterAdd(b!, ids, s!), [rand([5, 3]), rand([4, 3])]);
    expect(() => embedding(table, Int32Array.from([5]))).toThrow(/id 5 at position 0 is outside \[0, 5\)/);
  });
});
