// Elementwise ops with NumPy broadcasting (add, sub, mul, div) and unary math (exp, log, sqrt,
// rsqrt, neg, scalar scale/shift), each with its gradient rule beside it. No in-place variants.
import { alloc } from "../arena.js";
import { Tensor, withGrad } from "../tensor.js";
import { broadcastShapes, broadcastStrides, numel, reduceToShape, sameShape, shapeStr } from "../shape.js";
import { InfuseError } from "../../core/errors.js";

type BinaryOp = "add" | "sub" | "mul" | "div";
const BINARY: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
};

/**
 * out = a ∘ b over the broadcast shape. When b is a scalar or repeats along a's leading dims
 * (equal shapes, (…, C) ∘ (C)), monomorphic loops run per op; other layouts walk strides.
 */
function broadcastApply(op: BinaryOp, a: Tensor, b: Tensor): { out: Float32Array; shape: number[] } {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const ad = a.data;
  const bd = b.data;
  const out = alloc(numel(shape));
  if (sameShape(a.shape, shape) && bd.length === 1) {
    scalarLoop(op, ad, bd[0]!, out);
    return { out, shape };
  }
  if (sameShape(a.shape, shape) && out.length % bd.length === 0 && isTrailing(b.shape, shape)) {
    for (let base = 0; base < out.length; base += bd.length) rowLoop(op, ad, bd, out, base);
    return { out, shape };
  }
  const f = BINARY[op];
  const sa = broadcastStrides(a.shape, shape);
  const sb = broadcastStrides(b.shape, shape);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = f(ad[ia]!, bd[ib]!);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ia += sa[d]!;
      ib += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      ia -= sa[d]! * shape[d]!;
      ib -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return { out, shape };
}

/** out[base + j] = a[base + j] ∘ b[j] for one repetition of b. */
function rowLoop(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, base: number): void {
  const n = b.length;
  switch (op) {
    case "add":
      for (let j = 0; j < n; j++) out[base + j] = a[base + j]! + b[j]!;
      break;
    case "sub":
      for (let j = 0; j < n; j++) out[base + j] = a[base + j]! - b[j]!;
      break;
    case "mul":
      for (let j = 0; j < n; j++) out[base + j] = a[base + j]! * b[j]!;
      break;
    case "div":
      for (let j = 0; j < n; j++) out[base + j] = a[base + j]! / b[j]!;
      break;
  }
}

function scalarLoop(op: BinaryOp, a: Float32Array, y: number, out: Float32Array): void {
  switch (op) {
    case "add":
      for (let i = 0; i < a.length; i++) out[i] = a[i]! + y;
      break;
    case "sub":
      for (let i = 0; i < a.length; i++) out[i] = a[i]! - y;
      break;
    case "mul":
      for (let i = 0; i < a.length; i++) out[i] = a[i]! * y;
      break;
    case "div":
      for (let i = 0; i < a.length; i++) out[i] = a[i]! / y;
      break;
  }
}

/** True when `small` equals the trailing dims of `big` after dropping leading 1s. */
function isTrailing(small: readonly number[], big: readonly number[]): boolean {
  const s = small.slice(small.findIndex((d) => d !== 1));
  if (s.length === 0) return true;
  return s.every((d, i) => d === big[big.length - s.length + i]);
}

/** t's values broadcast to `shape` (t + zeros). */
function expand(t: Tensor, shape: number[]): Float32Array {
  if (sameShape(t.shape, shape)) return t.data;
  return broadcastApply("add", Tensor.zeros(shape), t).out;
}

// Backward closures capture only what the rule needs (shapes, or the other operand), never the
// input tensors themselves, so activations not needed for gradients can be collected.
export function add(a: Tensor, b: Tensor): Tensor {
  const { out, shape } = broadcastApply("add", a, b);
  const [as, bs] = [a.shape, b.shape];
  return withGrad(new Tensor(out, shape), "add", [a, b], (g) => [
    reduceToShape(g, shape, as),
    reduceToShape(g, shape, bs),
  ]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const { out, shape } = broadcastApply("sub", a, b);
  const [as, bs, needB] = [a.shape, b.shape, b.requiresGrad];
  return withGrad(new Tensor(out, shape), "sub", [a, b], (g) => {
    const gb = needB
      ? reduceToShape(
          g.map((v) => -v),
          shape,
          bs,
        )
      : null;
    return [reduceToShape(g, shape, as), gb];
  });
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const { out, shape } = broadcastApply("mul", a, b);
  const [as, bs] = [a.shape, b.shape];
  const keepA = b.requiresGrad ? a : null; // d/db needs a
  const keepB = a.requiresGrad ? b : null; // d/da needs b
  return withGrad(new Tensor(out, shape), "mul", [a, b], (g) => {
    const ga = keepB ? expand(keepB, shape).map((v, i) => v * g[i]!) : null;
    const gb = keepA ? expand(keepA, shape).map((v, i) => v * g[i]!) : null;
    return [ga && reduceToShape(ga, shape, as), gb && reduceToShape(gb, shape, bs)];
  });
}

export function div(a: Tensor, b: Tensor): Tensor {
  const { out, shape } = broadcastApply("div", a, b);
  const [as, bs, needA] = [a.shape, b.shape, a.requiresGrad];
  const quotient = b.requiresGrad ? out : null; // d(a/b)/db = −out / b
  return withGrad(new Tensor(out, shape), "div", [a, b], (g) => {
    const be = expand(b, shape);
    const ga = needA ? be.map((v, i) => g[i]! / v) : null;
    const gb = quotient ? be.map((v, i) => (-g[i]! * quotient[i]!) / v) : null;
    return [ga && reduceToShape(ga, shape, as), gb && reduceToShape(gb, shape, bs)];
  });
}

/** What a unary rule reads in backward: the input x, the output y, both, or neither. */
type Saves = "x" | "y" | "xy" | "none";

/** Elementwise f with derivative df(x, y) where y = f(x); only the arrays named by `saves` are kept. */
function unary(
  op: string,
  x: Tensor,
  saves: Saves,
  f: (v: number) => number,
  df: (v: number, y: number) => number,
): Tensor {
  const xd = x.data;
  const out = new Float32Array(xd.length);
  for (let i = 0; i < xd.length; i++) out[i] = f(xd[i]!);
  const xs = saves.includes("x") ? xd : null;
  const ys = saves.includes("y") ? out : null;
  return withGrad(new Tensor(out, x.shape), op, [x], (g) => {
    const gx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! * df(xs ? xs[i]! : 0, ys ? ys[i]! : 0);
    return [gx];
  });
}

export const exp = (x: Tensor): Tensor => unary("exp", x, "y", Math.exp, (_v, y) => y);
export const log = (x: Tensor): Tensor => unary("log", x, "x", Math.log, (v) => 1 / v);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x, "y", Math.sqrt, (_v, y) => 0.5 / y);
export const rsqrt = (x: Tensor): Tensor =>
  unary(
    "rsqrt",
    x,
    "xy",
    (v) => 1 / Math.sqrt(v),
    (v, y) => (-0.5 * y) / v,
  );
export const neg = (x: Tensor): Tensor =>
  unary(
    "neg",
    x,
    "none",
    (v) => -v,
    () => -1,
  );
export const scale = (x: Tensor, s: number): Tensor =>
  unary(
    "scale",
    x,
    "none",
    (v) => v * s,
    () => s,
  );
export const addScalar = (x: Tensor, s: number): Tensor =>
  unary(
    "addScalar",
    x,
    "none",
    (v) => v + s,
    () => 1,
  );
export const square = (x: Tensor): Tensor =>
  unary(
    "square",
    x,
    "x",
    (v) => v * v,
    (v) => 2 * v,
  );
export const relu = (x: Tensor): Tensor =>
  unary(
    "relu",
    x,
    "y",
    (v) => (v > 0 ? v : 0),
    (_v, y) => (y > 0 ? 1 : 0),
  );

/** Raises tensor.wrong_dtype-like errors for plain JS misuse: a non-finite scalar argument. */
export function checkScalar(op: string, name: string, v: number, x: Tensor): void {
  if (!Number.isFinite(v)) {
    throw new InfuseError("tensor.bad_argument", `${op}: ${name} is ${v} for input ${shapeStr(x.shape)}`, {
      kind: "input",
      hint: `pass a finite number as ${name}`,
    });
  }
}
