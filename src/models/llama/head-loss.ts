// The next-token loss from the final hidden states through the output head. A plain head (f32 or
// quantized weight) goes through the fused linearCrossEntropy, so the (N, V) logits, their softmax and
// their gradient are never all alive; a head with a bias or an adapter (LoRA on lm_head) runs its own
// forward and then crossEntropy, which keeps its gradients exact.
import { crossEntropy, linearCrossEntropy, reshape, type Tensor } from "../../tensor/index.js";
import type { Linear } from "../linear.js";

/** Mean cross-entropy of head(h) (…, V) against labels; −100 skips a row. */
export function headLoss(head: Linear, h: Tensor, labels: Int32Array): Tensor {
  if (head.adapter || head.bias) {
    const logits = head.forward(h); // (…, V)
    return crossEntropy(reshape(logits, [-1, head.outFeatures]), labels, { ignoreIndex: -100 });
  }
  return linearCrossEntropy(h, head.weight, labels, { ignoreIndex: -100 });
}
