// The LoRA adapter of one linear layer: Δy = s · dropout(x)·Aᵀ·Bᵀ with A (r, K), B (N, r) trainable
// and s = alpha/r (or alpha/√r, rsLoRA). Leaves out DoRA and bias adapters.
// Shapes: K in features, N out features, r rank, M rows of x.
import { InfuseError } from "../../core/errors.js";
import type { Rng } from "../../tensor/index.js";
import {
  alloc,
  dropout,
  isGradEnabled,
  lowRankLinear,
  matmul,
  scale,
  Tensor,
  type QuantTensor,
} from "../../tensor/index.js";
import type { LinearAdapter } from "../linear.js";

export interface LoraOptions {
  r: number;
  alpha: number;
  /** Dropout on the adapter's input while training (default 0). */
  dropout?: number;
  /** rsLoRA: scale by alpha/√r instead of alpha/r. */
  rslora?: boolean;
}

/** Scale the adapter's output is multiplied by. */
export function loraScale(o: Pick<LoraOptions, "r" | "alpha" | "rslora">): number {
  return o.rslora ? o.alpha / Math.sqrt(o.r) : o.alpha / o.r;
}

export class LoraAdapter implements LinearAdapter {
  /** (r, K): initialised uniform in ±1/√K as PEFT's kaiming_uniform(a=√5) does. */
  readonly a: Tensor;
  /** (N, r): zeros, so a fresh adapter changes nothing. */
  readonly b: Tensor;
  readonly r: number;
  readonly scale: number;
  readonly dropout: number;
  /** Dropout applies only while training and recording a graph. */
  training = true;
  private readonly rng: Rng;

  /** `values`: A and B as saved (their arrays become the tensors'), instead of a fresh initialisation. */
  constructor(
    inFeatures: number,
    outFeatures: number,
    options: LoraOptions,
    rng: Rng,
    values?: { a: Float32Array; b: Float32Array },
  ) {
    const { r, alpha } = options;
    if (!Number.isInteger(r) || r < 1 || !(alpha > 0)) {
      throw new InfuseError("lora.bad_options", `LoRA rank ${r} and alpha ${alpha} must be positive`, {
        kind: "usage",
        hint: "use e.g. --rank 8 --alpha 16",
      });
    }
    if (values && (values.a.length !== r * inFeatures || values.b.length !== outFeatures * r)) {
      throw new InfuseError(
        "lora.shape_mismatch",
        `LoRA values of ${values.a.length} and ${values.b.length} do not fit rank ${r} on a ${outFeatures}×${inFeatures} layer`,
        { kind: "input", hint: "load the adapter on the base model it was trained on" },
      );
    }
    let a = values?.a;
    if (!a) {
      const bound = 1 / Math.sqrt(inFeatures);
      a = new Float32Array(r * inFeatures);
      for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
    }
    this.a = new Tensor(a, [r, inFeatures], true);
    this.b = new Tensor(values?.b ?? new Float32Array(outFeatures * r), [outFeatures, r], true);
    this.r = r;
    this.scale = loraScale(options);
    this.dropout = options.dropout ?? 0;
    this.rng = rng;
  }

  /** x (…, K) → (…, N). */
  forward(x: Tensor): Tensor {
    const h = matmul(this.input(x), this.a, { transB: true }); // (…, r)
    return scale(matmul(h, this.b, { transB: true }), this.scale); // (…, N)
  }

  /** x·Wᵀ + Δy as one op (lowRankLinear): the base product and the adapter share one kernel call. */
  forwardWithBase(x: Tensor, weight: Tensor | QuantTensor): Tensor {
    if (!this.dropping()) return lowRankLinear(x, weight, this.a, this.b, this.scale);
    // the same draws as dropout(x): a checkpoint resumes the stream wherever the adapter ran
    const mask = alloc(x.size);
    this.rng.fillDropoutMask(mask, this.dropout, 1 / (1 - this.dropout));
    return lowRankLinear(x, weight, this.a, this.b, this.scale, mask);
  }

  /** A and B with the scale: what forward adds where no graph is recorded (dropout off). */
  lowRank(): { a: Tensor; b: Tensor; scale: number } {
    return { a: this.a, b: this.b, scale: this.scale };
  }

  /** Dropout applies while training and recording a graph. */
  private dropping(): boolean {
    return this.training && this.dropout > 0 && isGradEnabled();
  }

  /** The adapter's input: dropout(x) while dropping, else x itself (no copy). */
  private input(x: Tensor): Tensor {
    return this.dropping() ? dropout(x, this.dropout, this.rng) : x;
  }

  /** The dense update s·B·A (N, K) that merging adds to W. */
  delta(): Float32Array {
    const [n, r] = this.b.shape as [number, number];
    const k = this.a.shape[1]!;
    const a = this.a.data;
    const b = this.b.data;
    const out = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < r; j++) {
        const bij = b[i * r + j]! * this.scale;
        if (bij === 0) continue;
        for (let c = 0; c < k; c++) out[i * k + c]! += bij * a[j * k + c]!;
      }
    }
    return out;
  }
}
