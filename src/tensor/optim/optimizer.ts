// What every optimizer shares: the parameter list, zeroing gradients, and a saved state of named
// f32 arrays plus JSON metadata (the trainer writes it with the safetensors writer). No LR logic here.
import { InfuseError } from "../../core/errors.js";
import type { Tensor } from "../tensor.js";
import { shapeStr } from "../shape.js";

export interface OptimizerState {
  kind: string;
  step: number;
  /** Hyperparameters at save time, for a resume to check. */
  meta: Record<string, number>;
  /** Per-parameter slots named "<slot>.<param index>", e.g. "m.0", "v.0". */
  tensors: Record<string, Float32Array>;
}

export abstract class Optimizer {
  readonly params: Tensor[];
  /** Learning rate of the next step; a schedule sets it before each step. */
  lr: number;
  /** Steps taken so far. */
  stepCount = 0;

  constructor(params: Tensor[], lr: number) {
    const bad = params.find((p) => !p.requiresGrad);
    if (bad) {
      throw new InfuseError(
        "tensor.not_trainable",
        `optimizer: parameter ${shapeStr(bad.shape)} does not require grad`,
        {
          kind: "usage",
          hint: "pass only trainable parameters (requiresGrad = true), e.g. the LoRA A/B matrices",
        },
      );
    }
    this.params = params;
    this.lr = lr;
  }

  /** Applies one update from the parameters' current `.grad` (parameters without a grad are skipped). */
  abstract step(): void;

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  abstract saveState(): OptimizerState;
  abstract loadState(state: OptimizerState): void;

  protected checkState(state: OptimizerState, kind: string, slots: string[]): void {
    if (state.kind !== kind) {
      throw new InfuseError("tensor.bad_optimizer_state", `loadState: state is for ${state.kind}, not ${kind}`, {
        kind: "input",
        hint: "resume with the optimizer the checkpoint was written by",
      });
    }
    this.params.forEach((p, i) => {
      for (const slot of slots) {
        const t = state.tensors[`${slot}.${i}`];
        if (t && t.length !== p.size) {
          throw new InfuseError(
            "tensor.bad_optimizer_state",
            `loadState: ${slot}.${i} has ${t.length} values for parameter ${shapeStr(p.shape)}`,
            {
              kind: "input",
              hint: "the checkpoint was written for different parameters (another model or LoRA rank)",
            },
          );
        }
      }
    });
  }
}
