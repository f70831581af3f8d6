// Next-token sampling in llama.cpp's default order: repetition penalty → top-k → top-p → min-p →
// temperature → a seeded draw. Temperature 0 is greedy. Leaves out DRY, XTC, mirostat and grammars.
import { InfuseError } from "../core/errors.js";
import { Rng } from "../tensor/index.js";

export interface SamplingOptions {
  /** 0 = greedy (default 0.8). */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = all (default 40). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p; 1 = all (default 0.95). */
  topP?: number;
  /** Drop tokens below minP × the top token's probability; 0 = off (default 0.05). */
  minP?: number;
  /** > 1 discourages tokens seen in the last `repeatLastN`: logit / p if positive, × p if not (default 1). */
  repetitionPenalty?: number;
  /** How many recent tokens the penalty looks at (default 64). */
  repeatLastN?: number;
  /** Seed of the draw (default: random). */
  seed?: number;
}

export class Sampler {
  private readonly temperature: number;
  private readonly topK: number;
  private readonly topP: number;
  private readonly minP: number;
  private readonly penalty: number;
  private readonly lastN: number;
  private readonly rng: Rng;

  constructor(options: SamplingOptions = {}) {
    this.temperature = options.temperature ?? 0.8;
    this.topK = options.topK ?? 40;
    this.topP = options.topP ?? 0.95;
    this.minP = options.minP ?? 0.05;
    this.penalty = options.repetitionPenalty ?? 1;
    this.lastN = options.repeatLastN ?? 64;
    const bad = (ok: boolean, what: string): void => {
      if (!ok) throw new InfuseError("sampling.bad_option", `sampling: ${what}`, { kind: "usage" });
    };
    bad(this.temperature >= 0, "temperature must be ≥ 0");
    bad(Number.isInteger(this.topK) && this.topK >= 0, "topK must be an integer ≥ 0");
    bad(this.topP > 0 && this.topP <= 1, "topP must be in (0, 1]");
    bad(this.minP >= 0 && this.minP < 1, "minP must be in [0, 1)");
    bad(this.penalty > 0, "repetitionPenalty must be > 0");
    this.rng = new Rng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** Picks the next token from logits (V) given the tokens so far (prompt + generated). */
  sample(logits: Float32Array, history: readonly number[] = []): number {
    const l = this.penalty === 1 ? logits : this.penalize(logits, history);
    if (this.temperature === 0) return argmax(l);
    // Candidates sorted by logit, cut by top-k.
    let ids = topCandidates(l, this.topK);
    const probs = softmaxOf(
      ids.map((i) => l[i]!),
      1,
    );
    let keep = ids.length;
    if (this.topP < 1) {
      let cum = 0;
      for (let i = 0; i < probs.length; i++) {
        cum += probs[i]!;
        if (cum >= this.topP) {
          keep = i + 1;
          break;
        }
      }
    }
    if (this.minP > 0) {
      const floor = this.minP * probs[0]!;
      let n = 1;
      while (n < keep && probs[n]! >= floor) n++;
      keep = n;
    }
    ids = ids.slice(0, keep);
    const final = softmaxOf(
      ids.map((i) => l[i]!),
      this.temperature,
    );
    let u = this.rng.uniform();
    for (let i = 0; i < final.length; i++) {
      u -= final[i]!;
      if (u < 0) return ids[i]!;
    }
    return ids[ids.length - 1]!;
  }

  private penalize(logits: Float32Array, history: readonly number[]): Float32Array {
    const out = logits.slice();
    const seen = new Set(history.slice(Math.max(0, history.length - this.lastN)));
    for (const id of seen) {
      const v = out[id];
      if (v !== undefined) out[id] = v > 0 ? v / this.penalty : v * this.penalty;
    }
    return out;
  }
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/**
 * Token ids by descending logit, ties by id: the top k (all when k is 0). The k-th largest value comes
 * from one pass with a k-entry min-heap: a sort of the whole vocabulary took ~3–5 ms a token at
 * 49,152 logits (SmolLM), a sixth of a decode step; the pass takes ~0.1 ms.
 */
export function topCandidates(l: Float32Array, k: number): number[] {
  let ids: number[];
  if (k > 0 && k < l.length) {
    const threshold = kthLargest(l, k);
    ids = [];
    for (let i = 0; i < l.length; i++) if (l[i]! >= threshold) ids.push(i);
  } else ids = Array.from(l.keys());
  ids.sort((a, b) => l[b]! - l[a]! || a - b);
  return k > 0 ? ids.slice(0, k) : ids;
}

/** The k-th largest of x (1 ≤ k ≤ x.length; NaNs never count), kept in a min-heap of the k largest seen. */
function kthLargest(x: Float32Array, k: number): number {
  const heap = new Float32Array(k).fill(-Infinity); // heap[0] is the smallest of the k largest so far
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!(v > heap[0]!)) continue;
    let j = 0; // sift v down from the root, replacing the smallest
    for (;;) {
      const a = 2 * j + 1;
      if (a >= k) break;
      const c = a + 1 < k && heap[a + 1]! < heap[a]! ? a + 1 : a;
      if (heap[c]! >= v) break;
      heap[j] = heap[c]!;
      j = c;
    }
    heap[j] = v;
  }
  return heap[0]!;
}

function softmaxOf(values: number[], temperature: number): Float64Array {
  const out = new Float64Array(values.length);
  const max = values.reduce((a, b) => Math.max(a, b), -Infinity);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.exp((values[i]! - max) / temperature);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}
