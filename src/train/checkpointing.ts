// Gradient checkpointing for LoRA training: each decoder block's forward keeps no graph, only its
// input; backward runs the block again (same dropout draws: the RNG state is saved per block) and
// backpropagates through it. Activation memory drops from every block's to one block's, for ~1/3 more
// compute. Leaves out finer-grained (per-op) checkpoints.
import type { LlamaModel, LossBatch } from "../models/llama/model.js";
import { headLoss } from "../models/llama/head-loss.js";
import { arenaScope, rmsNorm, type Rng, Tensor, withGrad } from "../tensor/index.js";
import { fusedBlockBackward, fusedBlockForward } from "./fused-block.js";

/** The same mean next-token loss as `model.loss(batch)`, with per-block recomputation in backward. */
export function checkpointedLoss(model: LlamaModel, batch: LossBatch, rng: Rng): Tensor {
  const { t, positions, mask } = model.attentionInputs(batch);
  let x = model.embed(batch.ids, [batch.batch, t]); // (B, T, C)
  x.requiresGrad = true; // a leaf, so the first block's checkpoint records a node
  for (const layer of model.weights.layers) {
    const input = x;
    const state = rng.state();
    // one fused graph (fused-block.ts), or the op-by-op block whose graph is dropped with `out`: either
    // way the scope's arrays go back to the arena now, all but the output
    const out = arenaScope(
      () => fusedBlockForward(model, layer, input, positions, mask, rng) ?? model.block(layer, input, positions, mask),
      (y) => [y.data],
    );
    x = withGrad(new Tensor(out.data, out.shape), "checkpoint", [input], (g) => {
      const after = rng.state();
      rng.setState(state);
      // recomputation and backward as one graph (fused-block.ts) where it applies
      const fused = fusedBlockBackward(model, layer, input, positions, mask, rng, g);
      if (fused) {
        rng.setState(after);
        return [fused];
      }
      const xi = new Tensor(input.data, input.shape, true);
      // LoRA leaves accumulate here (copied out of the arena); finiteness is checked once on the
      // step's gradient norm. The recomputed block's arrays are reused by the next block's.
      arenaScope(() => model.block(layer, xi, positions, mask).backward({ grad: g, checkFinite: false }));
      rng.setState(after);
      return [xi.grad!.data];
    });
  }
  const h = rmsNorm(x, model.weights.outputNorm, model.config.rmsEps); // (B, T, C)
  return headLoss(model.weights.output, h, batch.labels); // fused head + loss: no (B·T, V) logits kept
}

/**
 * One micro-batch's loss (checkpointed when `checkpoint` is the adapters' RNG) and its backward with the
 * loss scaled by `weight`; returns the unscaled loss. The one micro-step of the trainer and of every
 * worker. Backward skips its per-op finiteness scan (~3% of a step): the trainer checks the summed
 * gradient's norm before every optimizer step (clipGradNorm), so NaN/Inf still stop the step.
 * Runs in an arena scope: the step's activations and gradients are the next step's arrays (only the
 * adapters' gradients, copied out, outlive it).
 */
export function lossAndBackward(model: LlamaModel, batch: LossBatch, weight: number, checkpoint?: Rng): number {
  return arenaScope(() => {
    const loss = checkpoint ? checkpointedLoss(model, batch, checkpoint) : model.loss(batch);
    const value = loss.item();
    loss.backward({ grad: Float32Array.of(weight), checkFinite: false });
    return value;
  });
}
