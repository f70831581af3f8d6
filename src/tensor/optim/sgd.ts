// SGD with optional momentum (PyTorch's form: buf = μ·buf + g) and L2 weight decay added to the gradient.
import { Optimizer, type OptimizerState } from "./optimizer.js";
import type { Tensor } from "../tensor.js";

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

export class Sgd extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number;
  private buf: Float32Array[];

  constructor(params: Tensor[], options: SgdOptions) {
    super(params, options.lr);
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.buf = params.map((p) => new Float32Array(this.momentum ? p.size : 0));
  }

  step(): void {
    this.stepCount++;
    const { lr, momentum, weightDecay } = this;
    this.params.forEach((p, i) => {
      const g = p.grad?.data;
      if (!g) return;
      const w = p.data;
      const b = this.buf[i]!;
      for (let j = 0; j < w.length; j++) {
        let d = g[j]! + weightDecay * w[j]!;
        if (momentum) {
          b[j] = momentum * b[j]! + d; // zero-initialised, so step 1 gives buf = d
          d = b[j]!;
        }
        w[j] = w[j]! - lr * d;
      }
    });
  }

  saveState(): OptimizerState {
    const tensors: Record<string, Float32Array> = {};
    if (this.momentum) this.buf.forEach((b, i) => (tensors[`momentum.${i}`] = b.slice()));
    return {
      kind: "sgd",
      step: this.stepCount,
      meta: { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay },
      tensors,
    };
  }

  loadState(state: OptimizerState): void {
    this.checkState(state, "sgd", ["momentum"]);
    this.stepCount = state.step;
    this.params.forEach((p, i) => {
      this.buf[i] = state.tensors[`momentum.${i}`]?.slice() ?? new Float32Array(this.momentum ? p.size : 0);
    });
  }
}
