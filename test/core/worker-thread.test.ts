// Errors across a thread boundary: the wire form survives structured clone (what postMessage does),
// an InfuseError comes back with its code, kind, hint and details, a plain error with the caller's
// fallback code and prefix. The trainer's and the engine's workers use these (their tests start real ones).
import { describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { errorFromWire, errorToWire } from "../../src/core/worker-thread.js";

const across = (e: unknown): ReturnType<typeof errorToWire> => structuredClone(errorToWire(e));

describe("worker errors on the wire", () => {
  it("keep an InfuseError's code, kind, hint and details, with the caller's details added", () => {
    const thrown = new InfuseError("tensor.shape_mismatch", "matmul: 2×3 by 4×5", {
      kind: "input",
      hint: "check the shapes",
      details: { op: "matmul", shapes: [new Int32Array([2, 3])], onRetry: () => 0 },
    });
    const back = errorFromWire(across(thrown), "train.worker_failed", {
      prefix: "training worker 1: ",
      hint: "run with --workers 1",
      details: { worker: 1 },
    });
    expect(back).toBeInstanceOf(InfuseError);
    expect(back).toMatchObject({
      code: "tensor.shape_mismatch",
      kind: "input",
      hint: "check the shapes",
      message: "matmul: 2×3 by 4×5",
      details: { op: "matmul", shapes: [{ 0: 2, 1: 3 }], worker: 1 },
    });
    expect(back.details).not.toHaveProperty("onRetry");
    expect(back.stack).toContain("--- in the worker thread ---");
    // details that clone keep their types (a typed array stays one)
    const shapes = [new Int32Array([2, 3])];
    const kept = errorFromWire(across(new InfuseError("x.y", "m", { details: { shapes } })), "z");
    expect(kept.details).toEqual({ shapes });
    expect((kept.details["shapes"] as unknown[])[0]).toBeInstanceOf(Int32Array);
  });

  it("turn a plain error into the fallback code, kind internal, with the prefix and default hint", () => {
    const back = errorFromWire(across(new RangeError("out of memory")), "train.worker_failed", {
      prefix: "training worker 2: ",
      hint: "run with --workers 1",
      details: { worker: 2 },
    });
    expect(back).toMatchObject({
      code: "train.worker_failed",
      kind: "internal",
      message: "training worker 2: out of memory",
      hint: "run with --workers 1",
      details: { worker: 2 },
    });
    expect(errorFromWire(across("boom"), "llm.engine_failed")).toMatchObject({
      code: "llm.engine_failed",
      message: "boom",
      hint: undefined,
      details: {},
    });
  });
});
