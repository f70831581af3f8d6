// Tensor (contiguous row-major f32) and reverse-mode autograd: each op records a GradFn whose
// backward maps the output gradient to input gradients. Views: reshape shares storage; nothing else.
// The graph links GradNodes, not tensors, so an activation's storage lives only while something
// that backward needs (a closure's saved array) or the caller still holds it.
import { InfuseError } from "../core/errors.js";
import { numel, shapeStr } from "./shape.js";
import { alloc, arenaActive, inBackward, recycle } from "./arena.js";

/** What an op records for backward: its inputs' nodes (null: needs no grad) and the gradient rule. */
export interface GradFn {
  op: string;
  inputs: (GradNode | null)[];
  /** Must not write into `grad`; may return it (or one array for several inputs) as is. */
  backward: (grad: Float32Array) => (Float32Array | null)[];
}

/**
 * A vertex of the graph: an op's output (gradFn set) or a leaf parameter (leaf set). Holds no data
 * outside backward; during it, `grad` is the gradient summed so far (fields, not Maps/Sets: cheaper).
 */
export interface GradNode {
  gradFn: GradFn | null;
  leaf: Tensor | null;
  shape: readonly number[];
  /** Backward's running gradient for this node. */
  grad: Float32Array | null;
  /** True when `grad` is a sum backward allocated, so adding into it in place is safe. */
  ownsGrad: boolean;
  /** The backward pass that last visited this node (topological sort marker). */
  visit: number;
}

function newNode(gradFn: GradFn | null, leaf: Tensor | null, shape: readonly number[]): GradNode {
  return { gradFn, leaf, shape, grad: null, ownsGrad: false, visit: 0 };
}

let gradEnabled = true;

/** Runs `fn` without recording any graph (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export interface BackwardOptions {
  /** Gradient of the root; defaults to 1 for a one-element root. */
  grad?: Float32Array;
  /** Keep the graph for a second backward (default false: the graph is freed as it is walked). */
  retainGraph?: boolean;
  /** Raise tensor.grad_not_finite when an op produces NaN/Inf gradients (default true). */
  checkFinite?: boolean;
}

/** A frozen tensor's values read again: all of them, or `count` from element `start`. */
export type TensorReloader = (start?: number, count?: number) => Float32Array;

export class Tensor {
  readonly shape: readonly number[];
  private storage: Float32Array;
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after backward(); same shape as the tensor. */
  grad: Tensor | null = null;
  /** This tensor's vertex in the graph, while the graph is alive. */
  node: GradNode | null = null;
  private released = false;
  /** Reads the values again after `dropValues()` (e.g. from the model file they were loaded from). */
  private reloader: TensorReloader | undefined;

  constructor(data: Float32Array, shape: readonly number[], requiresGrad = false) {
    if (!(data instanceof Float32Array)) {
      const got = (data as object | null)?.constructor?.name ?? typeof data;
      throw new InfuseError(
        "tensor.wrong_dtype",
        `Tensor: values must be a Float32Array, got ${got} for shape ${shapeStr(shape)}`,
        {
          kind: "input",
          hint: "compute tensors hold f32; convert with Float32Array.from(values), or keep frozen weights in a QuantTensor",
        },
      );
    }
    if (data.length !== numel(shape)) {
      throw new InfuseError(
        "tensor.shape_mismatch",
        `Tensor: ${data.length} values cannot have shape ${shapeStr(shape)}`,
        {
          kind: "input",
          hint: "the product of the shape must equal the number of values",
          details: { length: data.length, shape: [...shape] },
        },
      );
    }
    this.storage = data;
    this.shape = [...shape];
    this.requiresGrad = requiresGrad;
  }

  static zeros(shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(numel(shape)), shape, requiresGrad);
  }

  static full(shape: readonly number[], value: number, requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(numel(shape)).fill(value), shape, requiresGrad);
  }

  static from(values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape, requiresGrad);
  }

  static scalar(value: number): Tensor {
    return new Tensor(Float32Array.of(value), []);
  }

  /** The values, row-major; read back first where they were dropped (dropValues). Throws once the tensor was released. */
  get data(): Float32Array {
    if (this.released && this.reloader) this.restore();
    if (this.released) {
      throw new InfuseError("tensor.released", `Tensor ${shapeStr(this.shape)} was released and cannot be read`, {
        hint: "release a tensor only after its last use (and after backward if it is part of a graph)",
      });
    }
    return this.storage;
  }

  /** The op that produced this tensor, while the graph is alive. */
  get gradFn(): GradFn | null {
    return this.node?.gradFn ?? null;
  }

  get size(): number {
    return this.released && this.reloader ? numel(this.shape) : this.storage.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new InfuseError("tensor.not_scalar", `item(): tensor has shape ${shapeStr(this.shape)}, not one element`);
    }
    return this.data[0]!;
  }

  /** A tensor sharing this storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /**
   * Lets `dropValues()` drop the values of this (frozen) tensor: `read` returns them again, all `size`
   * of them whenever `data` is next read, or `count` from element `start` for `readRows`.
   */
  setReloader(read: TensorReloader): void {
    this.reloader = read;
  }

  /**
   * Rows [start, end) of a matrix into `out`: from memory, or where the values were dropped only those
   * rows from the reloader (an embedding lookup of a few tokens does not read the table back).
   */
  readRows(start: number, end: number, out: Float32Array): void {
    const width = this.shape[1]!;
    if (this.released && this.reloader) out.set(this.reloader(start * width, (end - start) * width));
    else out.set(this.data.subarray(start * width, end * width));
  }

  /** Whether `dropValues()` can drop the values (a reloader is set). */
  get reloadable(): boolean {
    return this.reloader !== undefined;
  }

  /** Whether the values are in memory (not dropped, nor released). */
  get resident(): boolean {
    return !this.released;
  }

  /**
   * Drops the values while a kernel holds its own copy (onnxruntime's prepacked weights), if a reloader
   * can read them back; returns whether it did. The next read of `data` reads them back.
   */
  dropValues(): boolean {
    if (!this.reloader || this.requiresGrad) return false;
    this.released = true;
    this.storage = new Float32Array(0);
    return true;
  }

  private restore(): void {
    const values = this.reloader!();
    if (values.length !== numel(this.shape)) {
      throw new InfuseError(
        "tensor.reload_failed",
        `Tensor: reloaded ${values.length} values for shape ${shapeStr(this.shape)}, expected ${numel(this.shape)}`,
        { hint: "the file the tensor was loaded from changed; load the model again" },
      );
    }
    this.storage = values;
    this.released = false;
  }

  /** Drops the storage (and graph links) now instead of waiting for the garbage collector. */
  release(): void {
    this.released = true;
    this.reloader = undefined;
    this.storage = new Float32Array(0);
    this.node = null;
    this.grad = null;
  }

  zeroGrad(): void {
    this.grad = null;
  }

  /** Reverse-mode pass from this tensor: leaf gradients accumulate into `.grad`. */
  backward(options: BackwardOptions = {}): void {
    runBackward(this, options);
  }
}

/** Wraps an op's output: records the gradient rule when grad mode is on and an input needs it. */
export function withGrad(out: Tensor, op: string, inputs: Tensor[], backward: GradFn["backward"]): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    const nodes = inputs.map((t) => (t.requiresGrad ? nodeOf(t) : null));
    out.node = newNode({ op, inputs: nodes, backward }, null, out.shape);
  }
  return out;
}

/** A tensor's node; a tensor that needs grad but came from no recorded op is a leaf. */
function nodeOf(t: Tensor): GradNode {
  if (!t.node) t.node = newNode(null, t, t.shape);
  return t.node;
}

let visitCount = 0;

/** Nodes reachable from root, each after every node that feeds on it (iterative DFS, no Set). */
function topoOrder(root: GradNode): GradNode[] {
  const visit = ++visitCount;
  const order: GradNode[] = [];
  const nodes: GradNode[] = [root];
  const next: number[] = [0]; // per stack entry: the input to look at next
  root.visit = visit;
  while (nodes.length > 0) {
    const top = nodes.length - 1;
    const n = nodes[top]!;
    const inputs = n.gradFn?.inputs;
    const i = next[top]!;
    if (inputs && i < inputs.length) {
      next[top] = i + 1;
      const input = inputs[i];
      if (input && input.visit !== visit) {
        input.visit = visit;
        nodes.push(input);
        next.push(0);
      }
    } else {
      nodes.pop();
      next.pop();
      order.push(n);
    }
  }
  return order.reverse();
}

function runBackward(root: Tensor, options: BackwardOptions): void {
  if (!root.requiresGrad) {
    throw new InfuseError("tensor.no_grad", `backward(): tensor ${shapeStr(root.shape)} does not require grad`, {
      hint: "set requiresGrad on a parameter that this value depends on, outside noGrad()",
    });
  }
  let seed = options.grad;
  if (!seed) {
    if (root.size !== 1) {
      throw new InfuseError(
        "tensor.shape_mismatch",
        `backward(): root has shape ${shapeStr(root.shape)}; give options.grad`,
        {
          hint: "call backward() on a scalar loss, or pass a gradient of the root's shape",
        },
      );
    }
    seed = Float32Array.of(1);
  }
  const rootNode = nodeOf(root);
  const checkFinite = options.checkFinite ?? true;
  const order = topoOrder(rootNode);
  rootNode.grad = seed;
  rootNode.ownsGrad = false;
  const refs = new Map<Float32Array, number>(); // the seed is the caller's: never counted, never recycled
  try {
    inBackward(() => {
      for (const node of order) visitNode(node, checkFinite, options.retainGraph ?? false, refs);
    });
  } finally {
    for (const node of order) node.grad = null; // an error midway leaves no gradient behind
  }
}

/**
 * Hands a node's gradient to its op's rule and sums the results into its inputs. Gradients pass
 * through by reference (reshape, add hand `g` on); only a sum this pass allocated is added into in
 * place, so an array shared by several inputs is never written. `refs` counts the nodes holding each
 * gradient an op returned: one no node holds any more goes back to the arena (when a scope is open).
 */
function visitNode(node: GradNode, checkFinite: boolean, retainGraph: boolean, refs: Map<Float32Array, number>) {
  const g = node.grad;
  const owned = node.ownsGrad;
  node.grad = null;
  node.ownsGrad = false;
  if (!g) return;
  const fn = node.gradFn;
  if (!fn) {
    if (node.leaf) accumulateLeaf(node.leaf, g, owned);
    release(g, refs);
    return;
  }
  const inputGrads = fn.backward(g);
  const inputs = fn.inputs;
  let consumed: Float32Array[] | null = null; // returned gradients added into a sum, held by no node
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    const ig = inputGrads[i];
    if (!ig || !input) continue;
    if (checkFinite) assertFinite(ig, fn.op, input.shape, node.shape);
    const prev = input.grad;
    if (!prev) {
      input.grad = ig;
      refs.set(ig, (refs.get(ig) ?? 0) + 1);
      continue;
    }
    if (input.ownsGrad) addInto(prev, ig);
    else {
      const sum = alloc(prev.length);
      for (let j = 0; j < sum.length; j++) sum[j] = prev[j]! + ig[j]!;
      input.grad = sum;
      input.ownsGrad = true;
      refs.set(sum, 1);
      release(prev, refs);
    }
    (consumed ??= []).push(ig);
  }
  if (consumed) for (const ig of consumed) if (ig !== g && !refs.has(ig)) recycle(ig);
  release(g, refs);
  if (!retainGraph) node.gradFn = null;
}

/** One node let go of `g`: when none holds it, it returns to the arena (arrays no node counted stay). */
function release(g: Float32Array, refs: Map<Float32Array, number>): void {
  const n = refs.get(g);
  if (n === undefined) return;
  if (n > 1) refs.set(g, n - 1);
  else {
    refs.delete(g);
    recycle(g);
  }
}

function addInto(acc: Float32Array, g: Float32Array): void {
  for (let j = 0; j < acc.length; j++) acc[j]! += g[j]!;
}

/**
 * A sum backward allocated becomes the leaf's gradient as is; anything else is copied (it may be
 * shared), and so is every gradient while an arena scope is open (its arrays are reused after it).
 */
function accumulateLeaf(t: Tensor, g: Float32Array, owned: boolean): void {
  if (!t.grad) t.grad = new Tensor(owned && !arenaActive() ? g : g.slice(), t.shape);
  else addInto(t.grad.data, g);
}

function assertFinite(
  g: Float32Array,
  op: string,
  inputShape: readonly number[],
  outputShape: readonly number[],
): void {
  // NaN and ±Inf turn x·0 into NaN: one branch-free pass, and a search only when it is not 0.
  // Four running sums so the adds do not wait on each other (a single chain is latency-bound).
  let [p0, p1, p2, p3] = [0, 0, 0, 0];
  const n4 = g.length - (g.length % 4);
  for (let j = 0; j < n4; j += 4) {
    p0 += g[j]! * 0;
    p1 += g[j + 1]! * 0;
    p2 += g[j + 2]! * 0;
    p3 += g[j + 3]! * 0;
  }
  for (let j = n4; j < g.length; j++) p0 += g[j]! * 0;
  if (p0 + p1 + p2 + p3 === 0) return;
  for (let j = 0; j < g.length; j++) {
    if (!Number.isFinite(g[j]!)) {
      throw new InfuseError(
        "tensor.grad_not_finite",
        `${op} backward: gradient for input ${shapeStr(inputShape)} (output ${shapeStr(outputShape)}) has ${g[j]} at index ${j}`,
        {
          hint: "lower the learning rate, check the inputs for NaN/Inf, or clip gradients",
          details: { op, inputShape: [...inputShape], outputShape: [...outputShape], index: j },
        },
      );
    }
  }
}
