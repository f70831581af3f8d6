// A linear layer y = x·Wᵀ + b with W (N, K) in f32 (a Tensor) or kept quantized (a QuantTensor), and a
// slot for an adapter (LoRA) whose output is added. Leaves out the adapters themselves (train/, models/lora).
import { InfuseError } from "../core/errors.js";
import { add, dequantCacheable, matmul, qmatmul, QuantTensor, Tensor } from "../tensor/index.js";
import { matmulKernel } from "../tensor/kernels/kernel.js";
import { heldF32Kernel } from "../tensor/kernels/ort.js";
import { qmatmulRaw } from "../tensor/quant/qmatmul.js";

/** Adds a learned delta to a linear layer's output: forward(x (…, K)) → (…, N). */
export interface LinearAdapter {
  forward(x: Tensor): Tensor;
  /**
   * Optional: the layer's whole output x·Wᵀ + delta as one op (fewer kernel calls and arrays than
   * the product plus forward(x)); null where it does not apply. A quantized weight comes only when it
   * fits the dequantization cache (dequantCacheable).
   */
  forwardWithBase?(x: Tensor, weight: Tensor | QuantTensor): Tensor | null;
  /**
   * Optional: where the adapter adds exactly scale · x·Aᵀ·Bᵀ when no graph is recorded (no dropout),
   * its factors A (r, K) and B (N, r), for the decoder's layer graphs to add it themselves.
   */
  lowRank?(): { a: Tensor; b: Tensor; scale: number };
}

export class Linear {
  /** GGUF tensor name without `.weight` (blk.0.attn_q). */
  readonly name: string;
  readonly weight: Tensor | QuantTensor;
  readonly bias: Tensor | null;
  /** Set by a trainer (LoRA); its output is added to the layer's. */
  adapter: LinearAdapter | null = null;

  constructor(name: string, weight: Tensor | QuantTensor, bias: Tensor | null = null) {
    const n = weight.shape[0];
    if (weight.shape.length !== 2 || (bias && bias.size !== n)) {
      throw new InfuseError("model.bad_weight", `${name}: weight must be (N, K) and bias (N)`, {
        kind: "input",
        details: { weight: [...weight.shape], bias: bias ? [...bias.shape] : null },
      });
    }
    this.name = name;
    this.weight = weight;
    this.bias = bias;
  }

  /** N */
  get outFeatures(): number {
    return this.weight.shape[0]!;
  }
  /** K */
  get inFeatures(): number {
    return this.weight.shape[1]!;
  }

  /** Differentiable: x (…, K) → (…, N). Gradients reach x, an f32 weight that requires grad, and the adapter. */
  forward(x: Tensor): Tensor {
    const w = this.weight;
    const fusable = w instanceof Tensor || dequantCacheable(w);
    const fused = fusable ? (this.adapter?.forwardWithBase?.(x, w) ?? null) : null;
    let y = fused ?? (w instanceof QuantTensor ? qmatmul(x, w) : matmul(x, w, { transB: true }));
    if (this.bias) y = add(y, this.bias);
    if (this.adapter && !fused) y = add(y, this.adapter.forward(x));
    return y;
  }

  /** Inference: out (M, N) = x (M, K)·Wᵀ + b (+ adapter), no graph, no intermediate copies. */
  forwardRaw(x: Float32Array, m: number, out: Float32Array): void {
    const n = this.outFeatures;
    const k = this.inFeatures;
    if (x.length !== m * k) x = x.subarray(0, m * k);
    const held = heldF32Kernel(this.weight);
    if (held) held.run(x, m, out);
    else if (this.weight instanceof QuantTensor) qmatmulRaw(x, this.weight, out, m);
    else matmulKernel(x, this.weight.data, out, { batch: 1, m, k, n, transA: false, transB: true, bBatched: true });
    if (this.bias) {
      const b = this.bias.data;
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j]! += b[j]!;
    }
    if (this.adapter) {
      const delta = this.adapter.forward(new Tensor(x, [m, k])).data;
      for (let i = 0; i < m * n; i++) out[i]! += delta[i]!;
    }
  }
}
