// The Llama-family decoder as differentiable tensor ops, for training and scoring: a padded batch in,
// logits or the next-token loss out. Generation uses the cached path in decode.ts over the same weights.
// Shapes: B batch, T tokens, C hidden, H query heads, Hkv key/value heads, D head size, F ffn, V vocab.
import { InfuseError } from "../../core/errors.js";
import {
  add,
  attention,
  embedding,
  paddingMask,
  QuantTensor,
  reshape,
  rmsNorm,
  rope,
  swiglu,
  Tensor,
} from "../../tensor/index.js";
import type { Linear } from "../linear.js";
import { headLoss } from "./head-loss.js";
import { attentionScale, ropeFrequencies, type LlamaConfig } from "./config.js";
import type { LlamaLayer, LlamaWeights } from "./weights.js";

/** A batch of B sequences of T tokens, row-major (B·T). */
export interface TokenBatch {
  ids: Int32Array;
  batch: number;
  /** 1 = token, 0 = padding (B·T). Default: all tokens. Left or right padding both work. */
  attentionMask?: Int32Array | Uint8Array;
  /** Position of each token (B·T). Default: the number of real tokens before it in its row (in its segment). */
  positions?: Int32Array;
  /**
   * Packed rows: the example each token belongs to (B·T). A token attends only to earlier tokens of
   * its own segment, and default positions restart at each segment, so packed examples do not see
   * each other.
   */
  segments?: Int32Array;
}

/** Labels aligned with ids: labels[b, t] is the token that should follow position t; −100 skips it. */
export interface LossBatch extends TokenBatch {
  labels: Int32Array;
}

export class LlamaModel {
  readonly config: LlamaConfig;
  readonly weights: LlamaWeights;
  /** Per-pair inverse RoPE frequencies (D/2), scaling applied. */
  readonly invFreq: Float32Array;
  /** Attention score scale: 1/√D, with YaRN's magnitude scaling. */
  readonly attnScale: number;

  constructor(config: LlamaConfig, weights: LlamaWeights) {
    this.config = config;
    this.weights = weights;
    this.invFreq = ropeFrequencies(config);
    this.attnScale = attentionScale(config);
  }

  /** Every linear layer by GGUF name (blk.0.attn_q … output): where adapters attach. */
  linears(): Map<string, Linear> {
    const out = new Map<string, Linear>();
    for (const layer of this.weights.layers) {
      for (const lin of [layer.q, layer.k, layer.v, layer.o, layer.gate, layer.up, layer.down]) out.set(lin.name, lin);
    }
    out.set(this.weights.output.name, this.weights.output);
    return out;
  }

  /** Logits (B, T, V) for every position. */
  forward(input: TokenBatch): Tensor {
    return this.weights.output.forward(this.hidden(input)); // (B, T, V)
  }

  /**
   * Mean cross-entropy of the labels not equal to −100. Runs forward's blocks, then the output head
   * fused with the loss (headLoss): the (B·T, V) logits are never all alive.
   */
  loss(input: LossBatch): Tensor {
    return headLoss(this.weights.output, this.hidden(input), input.labels);
  }

  /** The final-norm hidden states (B, T, C) the output head reads. */
  private hidden(input: TokenBatch): Tensor {
    const { t, positions, mask } = this.attentionInputs(input);
    let x = this.embed(input.ids, [input.batch, t]); // (B, T, C)
    for (const layer of this.weights.layers) x = this.block(layer, x, positions, mask);
    return rmsNorm(x, this.weights.outputNorm, this.config.rmsEps); // (B, T, C)
  }

  /**
   * A batch's row length, token positions and additive attention mask: (B, 1, 1, T) for padding,
   * (B, 1, T, T) for packed segments, none when no row is padded. Public for train/'s gradient checkpointing.
   */
  attentionInputs(input: TokenBatch): { t: number; positions: Int32Array; mask: Tensor | undefined } {
    const { batch, attentionMask, segments } = input;
    const t = input.ids.length / batch;
    const bad = (what: string) =>
      new InfuseError("model.bad_batch", `${input.ids.length} ids (and ${what}) do not split into ${batch} rows`, {
        kind: "input",
        hint: `pad every sequence to the same length and give one ${what} value per id`,
      });
    if (!Number.isInteger(t) || (attentionMask && attentionMask.length !== input.ids.length)) throw bad("mask");
    if (segments && segments.length !== input.ids.length) throw bad("segment");
    if (segments) {
      return {
        t,
        positions: input.positions ?? positionsFromMask(attentionMask, batch, t, segments),
        mask: segmentMask(segments, attentionMask, batch, t),
      };
    }
    return {
      t,
      positions: input.positions ?? positionsFromMask(attentionMask, batch, t),
      // a mask with no padding changes nothing: the attention kernels run without one
      mask: attentionMask && attentionMask.includes(0) ? paddingMask(attentionMask, batch, t) : undefined,
    };
  }

  /** Token embeddings (…shape, C); public for train/'s gradient checkpointing. */
  embed(ids: Int32Array, shape: number[]): Tensor {
    const table = this.weights.tokenEmbd;
    if (!(table instanceof QuantTensor)) return embedding(table, ids, shape);
    const c = this.config.dim;
    const out = new Float32Array(ids.length * c); // (N, C), frozen: no gradient
    for (let i = 0; i < ids.length; i++) table.dequantizeRows(ids[i]!, ids[i]! + 1, out.subarray(i * c, (i + 1) * c));
    return new Tensor(out, [...shape, c]);
  }

  /**
   * One decoder block (B, T, C) → (B, T, C); public for train/'s gradient checkpointing. Heads stay
   * token-major (B, T, H, D) from the projections through RoPE and attention: reshapes, no permutes.
   */
  block(layer: LlamaLayer, x: Tensor, positions: Int32Array, mask: Tensor | undefined): Tensor {
    const { heads, kvHeads, headDim, rmsEps, ropeLayout } = this.config;
    const [b, t] = x.shape as [number, number, number];
    const ropeOpts = { layout: ropeLayout, invFreq: this.invFreq, order: "bthd" } as const;
    const split = (y: Tensor, h: number): Tensor => reshape(y, [b, t, h, headDim]);
    const h = rmsNorm(x, layer.attnNorm, rmsEps); // (B, T, C)
    const q = rope(split(layer.q.forward(h), heads), positions, ropeOpts); // (B, T, H, D)
    const k = rope(split(layer.k.forward(h), kvHeads), positions, ropeOpts); // (B, T, Hkv, D)
    const v = split(layer.v.forward(h), kvHeads); // (B, T, Hkv, D)
    const attnOpts = { causal: true, scale: this.attnScale, order: "bthd", ...(mask ? { mask } : {}) } as const;
    const a = attention(q, k, v, attnOpts); // (B, T, H, D)
    const x1 = add(x, layer.o.forward(reshape(a, [b, t, heads * headDim]))); // (B, T, C)
    const h2 = rmsNorm(x1, layer.ffnNorm, rmsEps);
    const act = swiglu(layer.gate.forward(h2), layer.up.forward(h2)); // (B, T, F)
    return add(x1, layer.down.forward(act)); // (B, T, C)
  }
}

/** Position of each token = real tokens before it in its row (in its segment, when given); 0 for padding. */
export function positionsFromMask(
  mask: Int32Array | Uint8Array | undefined,
  batch: number,
  t: number,
  segments?: Int32Array,
): Int32Array {
  const pos = new Int32Array(batch * t);
  for (let b = 0; b < batch; b++) {
    let p = 0;
    for (let i = 0; i < t; i++) {
      const at = b * t + i;
      if (segments && i > 0 && segments[at] !== segments[at - 1]) p = 0;
      const real = !mask || mask[at] !== 0;
      pos[at] = real ? p : 0;
      if (real) p++;
    }
  }
  return pos;
}

/** Additive mask (B, 1, T, T): key j is visible to query i when both are in one segment and j is real. */
function segmentMask(segments: Int32Array, attention: Int32Array | Uint8Array | undefined, batch: number, t: number) {
  const m = new Float32Array(batch * t * t).fill(-Infinity);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < t; i++) {
      const row = (b * t + i) * t;
      for (let j = 0; j < t; j++) {
        const same = segments[b * t + i] === segments[b * t + j];
        if (same && (!attention || attention[b * t + j] !== 0)) m[row + j] = 0;
      }
    }
  }
  return new Tensor(m, [batch, 1, t, t]);
}
