// Seeded train/validation split, per-epoch shuffled micro-batches capped by sequences and padded
// tokens, and collation into a right-padded LossBatch. Pure functions of (seed, epoch): a resumed run
// rebuilds the same batches. Leaves out length-grouped sampling.
import type { LossBatch } from "../../models/llama/model.js";
import { Rng } from "../../tensor/index.js";
import { IGNORE, type Example } from "./encode.js";

/** Fisher–Yates permutation of 0…n−1 from `seed`. */
export function permutation(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Holds out round(fraction·n) examples (at least 1 when fraction > 0 and n > 1, at most `maxVal`)
 * chosen by seed; the rest train.
 */
export function splitExamples(
  examples: Example[],
  fraction: number,
  seed: number,
  maxVal = Infinity,
): { train: Example[]; val: Example[] } {
  if (fraction <= 0 || examples.length < 2 || maxVal < 1) return { train: examples, val: [] };
  const order = permutation(examples.length, seed ^ 0x5eed);
  const share = Math.max(1, Math.round(fraction * examples.length));
  const nVal = Math.min(examples.length - 1, share, maxVal);
  const val = new Set(order.slice(0, nVal));
  return { train: examples.filter((_, i) => !val.has(i)), val: examples.filter((_, i) => val.has(i)) };
}

/** At most `max` of `examples` (chosen by seed, kept in file order); all when `max` is 0 or not smaller. */
export function capExamples(examples: Example[], max: number, seed: number): Example[] {
  if (max <= 0 || examples.length <= max) return examples;
  const keep = new Set(permutation(examples.length, seed ^ 0xe7a1).slice(0, max));
  return examples.filter((_, i) => keep.has(i));
}

export interface BatchLimits {
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Padded tokens (B·T) per micro-batch at most; a longer single sequence still forms its own batch. */
  maxTokens?: number;
}

/** Micro-batches of example indices for one epoch (shuffled unless shuffle is false). */
export function epochBatches(
  examples: Example[],
  limits: BatchLimits,
  seed: number,
  epoch: number,
  shuffle = true,
): number[][] {
  const order = shuffle ? permutation(examples.length, (seed + 0x9e37 * (epoch + 1)) >>> 0) : examples.map((_, i) => i);
  const batches: number[][] = [];
  let cur: number[] = [];
  let longest = 0;
  for (const i of order) {
    const len = examples[i]!.ids.length;
    const wider = Math.max(longest, len);
    const over =
      cur.length >= limits.batchSize || (limits.maxTokens !== undefined && wider * (cur.length + 1) > limits.maxTokens);
    if (cur.length > 0 && over) {
      batches.push(cur);
      cur = [];
      longest = 0;
    }
    cur.push(i);
    longest = Math.max(longest, len);
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}

/** Right-padded (B, T) batch; padding has mask 0 and label −100. Packed examples keep their segments. */
export function collate(examples: Example[], indices: number[], padId = 0): LossBatch & { tokens: number } {
  const t = indices.reduce((m, i) => Math.max(m, examples[i]!.ids.length), 0);
  const b = indices.length;
  const ids = new Int32Array(b * t).fill(padId);
  const labels = new Int32Array(b * t).fill(IGNORE);
  const attentionMask = new Int32Array(b * t);
  const packed = indices.some((i) => examples[i]!.segments);
  const segments = packed ? new Int32Array(b * t).fill(-1) : undefined; // −1: padding
  let tokens = 0;
  indices.forEach((ex, row) => {
    const e = examples[ex]!;
    ids.set(e.ids, row * t);
    labels.set(e.labels, row * t);
    attentionMask.fill(1, row * t, row * t + e.ids.length);
    if (segments) {
      if (e.segments) segments.set(e.segments, row * t);
      else segments.fill(0, row * t, row * t + e.ids.length);
    }
    tokens += e.ids.length;
  });
  return { ids, labels, attentionMask, batch: b, tokens, ...(segments ? { segments } : {}) };
}
