// The encoder's weights as named f32 arrays for the writers: GGUF names (blk.0.attn_q.weight …),
// row-major shapes as Hugging Face stores them ([out, in] for a linear layer), a LoRA adapter merged
// into its layer's weight. Leaves out quantized weights (the engine's encoder holds f32 only).
import { InfuseError } from "../../../core/errors.js";
import { noGrad, Tensor } from "../../../tensor/index.js";
import type { Linear } from "../../linear.js";
import type { BertModel } from "../model.js";

export interface NamedWeight {
  /** GGUF tensor name. */
  name: string;
  /** Row-major shape: (V, C) for an embedding table, (N, K) for a linear weight, (C) for a vector. */
  shape: number[];
  data: Float32Array;
}

/** Every tensor of `model` in GGUF file order, with adapters merged. */
export function encoderWeights(model: BertModel): NamedWeight[] {
  const w = model.weights;
  const out: NamedWeight[] = [];
  const put = (name: string, t: Tensor) => out.push({ name, shape: [...t.shape], data: t.data });
  put("token_embd.weight", w.tokenEmbd);
  if (w.tokenTypes) put("token_types.weight", w.tokenTypes);
  put("position_embd.weight", w.positionEmbd);
  put("token_embd_norm.weight", w.embNormW);
  put("token_embd_norm.bias", w.embNormB);
  w.layers.forEach((l, i) => {
    const linear = (lin: Linear) => {
      out.push({ name: `${lin.name}.weight`, shape: [lin.outFeatures, lin.inFeatures], data: mergedWeight(lin) });
      if (lin.bias) put(`${lin.name}.bias`, lin.bias);
    };
    for (const lin of [l.q, l.k, l.v, l.o]) linear(lin);
    put(`blk.${i}.attn_output_norm.weight`, l.attnNormW);
    put(`blk.${i}.attn_output_norm.bias`, l.attnNormB);
    linear(l.up);
    linear(l.down);
    put(`blk.${i}.layer_output_norm.weight`, l.outNormW);
    put(`blk.${i}.layer_output_norm.bias`, l.outNormB);
  });
  return out;
}

/**
 * W (N, K) with the adapter's delta added: its own dense update when it has one (LoRA's delta()),
 * else, as an adapter is linear in x, its output for the identity (K, K), which is ΔWᵀ (K, N).
 * Under noGrad an adapter's dropout is off.
 */
export function mergedWeight(lin: Linear): Float32Array {
  if (!(lin.weight instanceof Tensor)) {
    throw new InfuseError(
      "export.quantized_weight",
      `${lin.name}: a quantized weight cannot be exported as an encoder`,
      {
        kind: "input",
        hint: "load the encoder in f32 (loadBert does) before saving it",
      },
    );
  }
  const base = lin.weight.data;
  const adapter = lin.adapter;
  if (!adapter) return base;
  const n = lin.outFeatures;
  const k = lin.inFeatures;
  // LoRA gives its dense update s·B·A (N, K) directly
  const dense = (adapter as { delta?: () => Float32Array }).delta?.();
  if (dense?.length === n * k) return base.map((v, i) => v + dense[i]!);
  const eye = new Float32Array(k * k);
  for (let i = 0; i < k; i++) eye[i * k + i] = 1;
  const delta = noGrad(() => adapter.forward(new Tensor(eye, [k, k]))).data; // (K, N)
  const merged = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) merged[r * k + c] = base[r * k + c]! + delta[c * n + r]!;
  return merged;
}
