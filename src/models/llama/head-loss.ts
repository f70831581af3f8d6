// The next-token loss from the final hidden states through the output head. A plain head (f32 or
// quantized weight) goes through the fused linearCrossEntropy, so the (N, V) logits, their softmax and
// their gradient are never all alive; a head with a bias or an adapter (LoRA on lm_head) runs its own
// forward and then crossEntropy, which keeps its gradients exact. In training, a quantized head small
// enough to hold in f32 for the run (pinnedDequantized) runs as an f32 one.
import { crossEntropy, isGradEnabled, linearCrossEntropy, QuantTensor, reshape, Tensor } from "../../tensor/index.js";
import { pinnedDequantized } from "../../tensor/quant/qmatmul-train.js";
import type { Linear } from "../linear.js";

/** Mean cross-entropy of head(h) (…, V) against labels; −100 skips a row. */
export function headLoss(head: Linear, h: Tensor, labels: Int32Array): Tensor {
  if (head.adapter || head.bias) {
    const logits = head.forward(h); // (…, V)
    return crossEntropy(reshape(logits, [-1, head.outFeatures]), labels, { ignoreIndex: -100 });
  }
  // Training: a small quantized head (stories15M's) decoded once for the run takes the f32 head's fused
  // graph, the same values in fewer, larger products (qmatmul-train.ts' PIN_VALUES); eval keeps the tiles.
  const w = head.weight;
  const train = isGradEnabled() && h.requiresGrad;
  const f32 = w instanceof QuantTensor && train ? pinnedDequantized(w) : null;
  return linearCrossEntropy(h, f32 ? new Tensor(f32, [...w.shape]) : w, labels, { ignoreIndex: -100 });
}
