// The contrastive loss of embedding training (InfoNCE, as FlagEmbedding and sentence-transformers'
// MultipleNegativesRankingLoss): scores = q̂ · p̂ᵀ / τ over the batch's passages, columns a query must
// not see masked out (other queries' groups without in-batch negatives; copies of its positive and
// repeated passages always), cross-entropy toward its positive. Composed from tensor ops, so the
// gradient comes from their rules (gradcheck in the tests). Shapes: B queries, P passages, C hidden.
import { add, addScalar, crossEntropy, matmul, mul, rsqrt, scale, sum, square, Tensor } from "../../tensor/index.js";

/** A masked column's additive logit: far below any score / τ, finite so gradients stay finite. */
export const MASKED = -1e9;

/** Rows scaled to unit length: x / √(Σx² + ε)  (N, C) → (N, C). */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  return mul(x, rsqrt(addScalar(sum(square(x), { axis: -1, keepDims: true }), eps)));
}

/** Which passage column each query's loss looks at. */
export interface ContrastiveLayout {
  /** Per query: the column of its positive. */
  targets: Int32Array;
  /** Additive mask (B·P): 0 = a column the query scores, MASKED = left out. */
  mask: Float32Array;
  /** Columns left out because they repeat the query's positive or another column (B·P counted once each). */
  duplicates: number;
}

/**
 * The layout of a batch: query i owns columns [i·G, (i+1)·G), its positive first. `keys[j]` names
 * passage j (its text or id); `positives[i]` every key query i counts as a positive (its whole `pos`
 * list). With `inBatch`, query i also scores every other query's passages; either way a column whose
 * key is one of i's positives (other than its target) or repeats a key already scored is masked.
 */
export function contrastiveLayout(
  keys: readonly string[],
  group: number,
  positives: readonly (readonly string[])[],
  inBatch: boolean,
): ContrastiveLayout {
  const b = positives.length;
  const p = keys.length;
  const targets = Int32Array.from({ length: b }, (_, i) => i * group);
  const mask = new Float32Array(b * p);
  let duplicates = 0;
  for (let i = 0; i < b; i++) {
    const seen = new Set(positives[i]);
    seen.add(keys[i * group]!);
    for (let j = 0; j < p; j++) {
      const own = j >= i * group && j < (i + 1) * group;
      if (j === i * group) continue;
      if (!inBatch && !own) {
        mask[i * p + j] = MASKED;
        continue;
      }
      if (seen.has(keys[j]!)) {
        mask[i * p + j] = MASKED;
        duplicates++;
      } else seen.add(keys[j]!);
    }
  }
  return { targets, mask, duplicates };
}

/**
 * Mean InfoNCE over the queries: q (B, C) and p (P, C) unit rows, `temperature` τ. Returns the scalar
 * loss (differentiable in q and p) and the masked logits (B, P) for accuracy and MRR.
 */
export function infoNce(
  q: Tensor,
  p: Tensor,
  layout: Pick<ContrastiveLayout, "targets" | "mask">,
  temperature: number,
): { loss: Tensor; logits: Tensor } {
  const scores = matmul(q, p, { transB: true }); // (B, P)
  const logits = add(scale(scores, 1 / temperature), new Tensor(layout.mask, scores.shape)); // (B, P)
  return { loss: crossEntropy(logits, layout.targets), logits };
}

/** Per query: the positive's rank among the scored columns (1 = first); ties count against it. */
export function targetRanks(logits: Tensor, targets: Int32Array): number[] {
  const [b, p] = logits.shape as [number, number];
  const d = logits.data;
  return Array.from({ length: b }, (_, i) => {
    const t = d[i * p + targets[i]!]!;
    let rank = 1;
    for (let j = 0; j < p; j++) if (j !== targets[i] && d[i * p + j]! >= t && d[i * p + j]! > MASKED / 2) rank++;
    return rank;
  });
}
