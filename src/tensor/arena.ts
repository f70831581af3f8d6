// A pool of f32 arrays reused across training steps, so a step's activations and gradients stop costing
// fresh pages and garbage collections (V8 collects typed arrays by external-memory pressure; each new
// large array is zeroed pages from the kernel). Ops take their outputs from `alloc`; inside `arenaScope`
// every array handed out goes back to the pool when the scope ends, or earlier through `recycle` when
// backward knows it is dead. Outside a scope `alloc` is `new Float32Array`. Leaves out sub-array views.
// An outermost scope pools only during backward passes: a forward's activations die one by one as
// backward walks the graph, and holding them all to the scope's end raised SmolLM-135M's f32 LoRA
// peak by ~38%; nested scopes (a checkpointed block, a chunked head) end soon and pool everything.
//
// Contract: a scope's result must not hold its arrays past the scope (read the loss as a number); what a
// nested scope keeps passes to the enclosing one. Arrays are dirty: `alloc` is for outputs written whole.

interface Scope {
  live: Set<Float32Array>;
  parent: Scope | null;
}

let scope: Scope | null = null;
/** Backward passes running (tensor.ts counts them). */
let backwardDepth = 0;
/** Free arrays by length. */
const free = new Map<number, Float32Array[]>();
let freeValues = 0;
/** The pool keeps at most this many idle values (512 MiB of f32); arrays beyond it are dropped. */
const MAX_FREE_VALUES = 1 << 27;
/** Below this many values an array is left to V8 (its young generation handles small ones well). */
const MIN_VALUES = 1024;

/** An array of n values, dirty when it comes from the pool: write every element. */
export function alloc(n: number): Float32Array {
  if (!scope || n < MIN_VALUES || (scope.parent === null && backwardDepth === 0)) return new Float32Array(n);
  const a = free.get(n)?.pop();
  if (a) freeValues -= n;
  const out = a ?? new Float32Array(n);
  scope.live.add(out);
  return out;
}

/** An array of n zeros (from the pool when it has one). */
export function allocZeroed(n: number): Float32Array {
  if (!scope || n < MIN_VALUES || (scope.parent === null && backwardDepth === 0)) return new Float32Array(n);
  return alloc(n).fill(0);
}

/** Runs a backward pass: allocations in an outermost scope are pooled while it runs. */
export function inBackward<T>(fn: () => T): T {
  backwardDepth++;
  try {
    return fn();
  } finally {
    backwardDepth--;
  }
}

/** True while a scope is open (leaf gradients are then copied out of pooled arrays). */
export function arenaActive(): boolean {
  return scope !== null;
}

/**
 * Returns `a` to the pool now if the innermost open scope handed it out (the caller knows nothing reads
 * it any more). An enclosing scope's arrays wait for their scope: an inner backward pass (a checkpointed
 * block's) does not see every holder of its seed.
 */
export function recycle(a: Float32Array): void {
  if (scope?.live.delete(a)) toPool(a);
}

function toPool(a: Float32Array): void {
  if (freeValues + a.length > MAX_FREE_VALUES) return;
  let list = free.get(a.length);
  if (!list) free.set(a.length, (list = []));
  list.push(a);
  freeValues += a.length;
}

/**
 * Runs fn with pooled allocation. When it returns, every array handed out inside goes back to the pool,
 * except those `keep(result)` names, which pass to the enclosing scope (or to the garbage collector).
 */
export function arenaScope<T>(fn: () => T, keep?: (result: T) => readonly Float32Array[]): T {
  const s: Scope = { live: new Set(), parent: scope };
  scope = s;
  let result: T;
  try {
    result = fn();
  } finally {
    scope = s.parent;
  }
  for (const a of keep?.(result) ?? []) {
    if (s.live.delete(a)) s.parent?.live.add(a);
  }
  for (const a of s.live) toPool(a);
  s.live.clear();
  return result;
}

/** Drops every idle pooled array (after training). */
export function clearArena(): void {
  free.clear();
  freeValues = 0;
}
