import { describe, expect, it } from "vitest";
import v8 from "node:v8";
import vm from "node:vm";
import type { Tensor } from "../../src/tensor/tensor.js";
import { add, mul } from "../../src/tensor/ops/elementwise.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { sum } from "../../src/tensor/ops/reduce.js";
import { rand } from "./helpers.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Builds base = x·W, then combine(base, b); returns the result and a weak handle on base's storage. */
function build(combine: (a: Tensor, b: Tensor) => Tensor): { out: Tensor; base: WeakRef<Float32Array> } {
  const x = rand([64, 32]);
  const w = rand([32, 48]);
  const base = matmul(x, w); // (64, 48) activation
  const out = combine(base, rand([48]));
  return { out, base: new WeakRef(base.data) };
}

async function collected(ref: WeakRef<object>): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 0)); // WeakRefs hold their target until the job ends
  gc();
  return ref.deref() === undefined;
}

describe("the graph keeps only what backward needs", () => {
  it("an activation that no gradient rule reads is freed while the graph is alive", async () => {
    const { out, base } = build(add); // add's gradient needs no operand values
    expect(await collected(base)).toBe(true);
    sum(out).backward(); // and backward still works
  });

  it("an activation a gradient rule reads is kept until backward, then freed", async () => {
    const kept = build(mul); // d(a·b)/db reads a
    expect(await collected(kept.base)).toBe(false);
    sum(kept.out).backward();
    expect(kept.out.gradFn).toBeNull();
    expect(await collected(kept.base)).toBe(true);
  });
});
