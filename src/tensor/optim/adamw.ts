// AdamW (Loshchilov & Hutter): Adam moments with bias correction and weight decay applied to the
// weights directly (decoupled), not through the gradient. State is f32, two slots per parameter.
import { Optimizer, type OptimizerState } from "./optimizer.js";
import type { Tensor } from "../tensor.js";

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  weightDecay: number;
  private m: Float32Array[];
  private v: Float32Array[];

  constructor(params: Tensor[], options: AdamWOptions) {
    super(params, options.lr);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.m = params.map((p) => new Float32Array(p.size));
    this.v = params.map((p) => new Float32Array(p.size));
  }

  step(): void {
    this.stepCount++;
    const t = this.stepCount;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    const { beta1: b1, beta2: b2, eps, lr } = this;
    const decay = 1 - lr * this.weightDecay;
    this.params.forEach((p, i) => {
      const g = p.grad?.data;
      if (!g) return;
      const w = p.data;
      const m = this.m[i]!;
      const v = this.v[i]!;
      for (let j = 0; j < w.length; j++) {
        const gj = g[j]!;
        m[j] = b1 * m[j]! + (1 - b1) * gj;
        v[j] = b2 * v[j]! + (1 - b2) * gj * gj;
        const update = m[j]! / c1 / (Math.sqrt(v[j]! / c2) + eps);
        w[j] = w[j]! * decay - lr * update;
      }
    });
  }

  saveState(): OptimizerState {
    const tensors: Record<string, Float32Array> = {};
    this.params.forEach((_, i) => {
      tensors[`m.${i}`] = this.m[i]!.slice();
      tensors[`v.${i}`] = this.v[i]!.slice();
    });
    const meta = { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
    return { kind: "adamw", step: this.stepCount, meta, tensors };
  }

  loadState(state: OptimizerState): void {
    this.checkState(state, "adamw", ["m", "v"]);
    this.stepCount = state.step;
    this.params.forEach((p, i) => {
      this.m[i] = state.tensors[`m.${i}`]?.slice() ?? new Float32Array(p.size);
      this.v[i] = state.tensors[`v.${i}`]?.slice() ?? new Float32Array(p.size);
    });
  }
}
