// How a QLoRA run holds the frozen base's two vocabulary tables: the token embeddings and the output
// head (one table when tied) go to f16, as QLoRA keeps them in 16-bit compute precision rather than 4
// bits. Half their f32 memory (SmolLM-135M: 113 → 57 MB, the largest tensor it has) for ~5e-4 relative
// rounding; the fused head loss and the embedding lookup read f16 directly. Blocks are quantized on load.
import { Linear } from "../models/linear.js";
import type { LlamaModel } from "../models/llama/model.js";
import { quantize, Tensor } from "../tensor/index.js";

/** Replaces f32 token-embedding and output-head tables by f16 copies (a tied head stays tied). */
export function halfFrozenTables(model: LlamaModel): void {
  const w = model.weights;
  const head = w.output;
  const tied = head.weight === w.tokenEmbd;
  const half = (t: Tensor) => quantize("f16", t.data, t.shape);
  if (w.tokenEmbd instanceof Tensor && !w.tokenEmbd.requiresGrad) w.tokenEmbd = half(w.tokenEmbd);
  let weight = head.weight;
  if (tied) weight = w.tokenEmbd;
  else if (weight instanceof Tensor && !weight.requiresGrad) weight = half(weight);
  if (weight === head.weight) return;
  w.output = new Linear(head.name, weight, head.bias);
  w.output.adapter = head.adapter;
}
