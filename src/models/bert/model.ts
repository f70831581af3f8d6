// The BERT-family encoder as differentiable tensor ops (post-LayerNorm blocks, exact or tanh GELU),
// for embedding and for contrastive training: a padded batch in, hidden states (B, T, C) or pooled
// sentence vectors (B, C) out. Linear layers are models/linear.ts's, so LoRA attaches by GGUF name.
// Shapes: B batch, T tokens, C hidden, H heads, D head size, F ffn.
import { InfuseError } from "../../core/errors.js";
import {
  add,
  addLayerNorm,
  attention,
  embedding,
  fusedLinear,
  gelu,
  layerNorm,
  matmul,
  packedAttention,
  paddingMask,
  reshape,
  Tensor,
} from "../../tensor/index.js";
import type { Linear } from "../linear.js";
import type { BertConfig, EncoderPooling } from "./config.js";

export interface BertLayer {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  attnNormW: Tensor;
  attnNormB: Tensor;
  up: Linear;
  down: Linear;
  outNormW: Tensor;
  outNormB: Tensor;
}

export interface BertWeights {
  tokenEmbd: Tensor; // (V, C)
  positionEmbd: Tensor; // (P, C)
  tokenTypes: Tensor | null; // (types, C)
  embNormW: Tensor;
  embNormB: Tensor;
  layers: BertLayer[];
}

/** B right-padded rows of T token ids. */
export interface EncoderBatch {
  ids: Int32Array;
  batch: number;
  /** 1 = token, 0 = padding (B·T); default all tokens. Rows must be right-padded (CLS first). */
  attentionMask?: Int32Array | Uint8Array;
  /** Token type of each token (B·T); default 0. */
  typeIds?: Int32Array;
}

export class BertModel {
  constructor(
    readonly config: BertConfig,
    readonly weights: BertWeights,
  ) {}

  /** Every linear layer by GGUF name (blk.0.attn_q …): where adapters attach. */
  linears(): Map<string, Linear> {
    const out = new Map<string, Linear>();
    for (const l of this.weights.layers) for (const lin of [l.q, l.k, l.v, l.o, l.up, l.down]) out.set(lin.name, lin);
    return out;
  }

  /** Every f32 tensor (full fine-tuning sets requiresGrad on these). */
  parameters(): Tensor[] {
    const w = this.weights;
    const out = [w.tokenEmbd, w.positionEmbd, ...(w.tokenTypes ? [w.tokenTypes] : []), w.embNormW, w.embNormB];
    for (const l of w.layers) {
      for (const lin of [l.q, l.k, l.v, l.o, l.up, l.down]) {
        if (lin.weight instanceof Tensor) out.push(lin.weight);
        if (lin.bias) out.push(lin.bias);
      }
      out.push(l.attnNormW, l.attnNormB, l.outNormW, l.outNormB);
    }
    return out;
  }

  /** Last hidden states (B, T, C). */
  forward(input: EncoderBatch): Tensor {
    const { batch, attentionMask } = input;
    const t = input.ids.length / batch;
    if (!Number.isInteger(t) || (attentionMask && attentionMask.length !== input.ids.length)) {
      throw new InfuseError("model.bad_batch", `${input.ids.length} ids (and mask) do not split into ${batch} rows`, {
        kind: "input",
        hint: "pad every sequence to the same length and give one mask value per id",
      });
    }
    if (t > this.config.maxTokens) {
      throw new InfuseError(
        "model.too_long",
        `${t} tokens per row; the encoder takes at most ${this.config.maxTokens}`,
        {
          kind: "input",
          hint: "truncate the inputs to the model's maximum length",
        },
      );
    }
    const padded = attentionMask && attentionMask.includes(0) ? attentionMask : undefined;
    const mask = padded ? paddingMask(padded, batch, t) : undefined;
    let x = this.embed(input, t);
    for (const layer of this.weights.layers) {
      x = fusable(layer) ? this.fusedBlock(layer, x, padded) : this.block(layer, x, mask);
    }
    return x;
  }

  /** Pooled sentence vectors (B, C), differentiable (not normalised). */
  encode(input: EncoderBatch, pooling: EncoderPooling): Tensor {
    const hidden = this.forward(input);
    const t = input.ids.length / input.batch;
    return poolHidden(hidden, poolWeights(input.attentionMask, input.batch, t, pooling));
  }

  private embed(input: EncoderBatch, t: number): Tensor {
    const w = this.weights;
    const { batch, ids } = input;
    const { positionOffset, eps } = this.config;
    const positions = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) positions[i] = (i % t) + positionOffset;
    let x = add(embedding(w.tokenEmbd, ids, [batch, t]), embedding(w.positionEmbd, positions, [batch, t]));
    if (w.tokenTypes) x = add(x, embedding(w.tokenTypes, input.typeIds ?? new Int32Array(ids.length), [batch, t]));
    return layerNorm(x, w.embNormW, w.embNormB, eps); // (B, T, C)
  }

  private block(layer: BertLayer, x: Tensor, mask: Tensor | undefined): Tensor {
    const { heads, dim, eps } = this.config;
    const [b, t] = x.shape as [number, number, number];
    const split = (y: Tensor): Tensor => reshape(y, [b, t, heads, dim / heads]);
    const q = split(layer.q.forward(x)); // (B, T, H, D)
    const k = split(layer.k.forward(x));
    const v = split(layer.v.forward(x));
    const a = attention(q, k, v, { order: "bthd", ...(mask ? { mask } : {}) }); // (B, T, H, D)
    const x1 = layerNorm(add(x, layer.o.forward(reshape(a, [b, t, dim]))), layer.attnNormW, layer.attnNormB, eps);
    const h = gelu(layer.up.forward(x1), this.config.gelu); // (B, T, F)
    return layerNorm(add(x1, layer.down.forward(h)), layer.outNormW, layer.outNormB, eps); // (B, T, C)
  }

  /**
   * The same block as `block` in fewer, larger kernel calls: Q, K and V as one product with their
   * biases, attention over that packed output, bias adds (and GELU) inside the products.
   */
  private fusedBlock(layer: BertLayer, x: Tensor, mask: Int32Array | Uint8Array | undefined): Tensor {
    const { heads, eps } = this.config;
    const w = (lin: Linear): [Tensor[], Tensor[]] => [[lin.weight as Tensor], [lin.bias!]];
    const qkv = fusedLinear(
      x,
      [layer.q, layer.k, layer.v].map((l) => l.weight as Tensor),
      [layer.q.bias!, layer.k.bias!, layer.v.bias!],
    ); // (B, T, 3C)
    const a = packedAttention(qkv, heads, mask); // (B, T, C)
    const x1 = addLayerNorm(x, fusedLinear(a, ...w(layer.o)), layer.attnNormW, layer.attnNormB, eps);
    const h = fusedLinear(x1, ...w(layer.up), this.config.gelu === "erf" ? "gelu" : undefined); // (B, T, F)
    const hg = this.config.gelu === "erf" ? h : gelu(h, this.config.gelu);
    return addLayerNorm(x1, fusedLinear(hg, ...w(layer.down)), layer.outNormW, layer.outNormB, eps); // (B, T, C)
  }
}

/** True when every linear layer of the block is a plain f32 weight with a bias and no adapter (LoRA). */
function fusable(l: BertLayer): boolean {
  return [l.q, l.k, l.v, l.o, l.up, l.down].every((lin) => lin.weight instanceof Tensor && lin.bias && !lin.adapter);
}

/** Pooling as weights over tokens (B, 1, T): mean over real tokens, or the first token (CLS). */
export function poolWeights(
  mask: Int32Array | Uint8Array | undefined,
  batch: number,
  t: number,
  pooling: EncoderPooling,
): Tensor {
  const w = new Float32Array(batch * t);
  for (let b = 0; b < batch; b++) {
    if (pooling === "cls") {
      w[b * t] = 1;
      continue;
    }
    let n = 0;
    for (let i = 0; i < t; i++) n += !mask || mask[b * t + i] ? 1 : 0;
    for (let i = 0; i < t; i++) w[b * t + i] = !mask || mask[b * t + i] ? 1 / Math.max(n, 1) : 0;
  }
  return new Tensor(w, [batch, 1, t]);
}

/** (B, 1, T) weights · hidden (B, T, C) → (B, C). */
export function poolHidden(hidden: Tensor, weights: Tensor): Tensor {
  const [b, , c] = hidden.shape as [number, number, number];
  return reshape(matmul(weights, hidden), [b, c]);
}
