// Rotary position embedding on x (B, H, T, D) in both layouts: "interleaved" rotates pairs
// (x[2i], x[2i+1]) as llama.cpp does for GGUF Llama; "half" rotates (x[i], x[i+D/2]) as Hugging Face does.
// Frequency scaling (YaRN, llama3) is left to the caller through `invFreq`.
import { InfuseError } from "../../core/errors.js";
import { Tensor, withGrad } from "../tensor.js";
import { shapeError, shapeStr } from "../shape.js";

export type RopeLayout = "interleaved" | "half";

export interface RopeOptions {
  layout: RopeLayout;
  /** θ base; 10000 for Llama 2. Ignored when invFreq is given. */
  base?: number;
  /** Rotated dims (partial rotary); default all of D. Must be even. */
  rotaryDims?: number;
  /** Per-pair inverse frequencies (rotaryDims / 2 values), e.g. already llama3-scaled. */
  invFreq?: Float32Array;
  /** "bhtd" (default): x (B, H, T, D); "bthd": x (B, T, H, D), a linear layer's output reshaped, no permute. */
  order?: "bhtd" | "bthd";
}

/** Inverse frequencies base^(−2i/d) for i < d/2. */
export function ropeInvFreq(rotaryDims: number, base = 10000): Float32Array {
  return Float32Array.from({ length: rotaryDims / 2 }, (_, i) => base ** ((-2 * i) / rotaryDims));
}

/** Llama 3's frequency scaling (rope_type "llama3" in config.json, rope.scaling.* in GGUF). */
export interface Llama3Scaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContextLength: number;
}

/**
 * Inverse frequencies with Llama 3 scaling: wavelengths longer than ctx/lowFreqFactor are slowed by
 * `factor`, shorter than ctx/highFreqFactor kept, and the band between interpolated smoothly.
 */
export function llama3InvFreq(rotaryDims: number, base: number, s: Llama3Scaling): Float32Array {
  const lowWavelen = s.originalContextLength / s.lowFreqFactor;
  const highWavelen = s.originalContextLength / s.highFreqFactor;
  return ropeInvFreq(rotaryDims, base).map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/** Rotates x (B, H, T, D) or (B, T, H, D); positions holds T values (shared by the batch) or B·T. */
export function rope(x: Tensor, positions: Int32Array, options: RopeOptions): Tensor {
  const tokensFirst = options.order === "bthd";
  const want = tokensFirst ? "(B, T, H, D)" : "(B, H, T, D)";
  if (x.ndim !== 4) throw shapeError("rope", `input must be ${want}`, [x.shape], `reshape to ${want}`);
  const [bsz, d] = [x.shape[0]!, x.shape[3]!];
  const [heads, t] = tokensFirst ? [x.shape[2]!, x.shape[1]!] : [x.shape[1]!, x.shape[2]!];
  // element offset of (b, h, s) in either order
  const [sb, sh, ss] = tokensFirst ? [t * heads * d, d, heads * d] : [heads * t * d, t * d, d];
  const rd = options.rotaryDims ?? d;
  if (rd % 2 !== 0 || rd > d)
    throw shapeError(
      "rope",
      `rotaryDims ${rd} must be even and ≤ ${d}`,
      [x.shape],
      "use an even number of rotary dims",
    );
  if (positions.length !== t && positions.length !== bsz * t) {
    throw new InfuseError("tensor.shape_mismatch", `rope: ${positions.length} positions for x ${shapeStr(x.shape)}`, {
      kind: "input",
      hint: "pass T positions, or B·T for per-sequence positions",
    });
  }
  const invFreq = options.invFreq ?? ropeInvFreq(rd, options.base ?? 10000);
  const half = rd / 2;
  const cos = new Float32Array(positions.length * half); // (P, D/2)
  const sin = new Float32Array(positions.length * half);
  for (let p = 0; p < positions.length; p++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[p]! * invFreq[i]!;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  const perBatch = positions.length !== t;
  const interleaved = options.layout === "interleaved";
  const apply = (src: Float32Array, sign: number): Float32Array => {
    const out = rd === d ? new Float32Array(src.length) : src.slice();
    for (let b = 0; b < bsz; b++) {
      for (let h = 0; h < heads; h++) {
        for (let s = 0; s < t; s++) {
          const row = b * sb + h * sh + s * ss;
          const p = (perBatch ? b * t + s : s) * half;
          for (let i = 0; i < half; i++) {
            const c = cos[p + i]!;
            const sn = sign * sin[p + i]!;
            const i0 = interleaved ? row + 2 * i : row + i;
            const i1 = interleaved ? i0 + 1 : row + i + half;
            const x0 = src[i0]!;
            const x1 = src[i1]!;
            out[i0] = x0 * c - x1 * sn;
            out[i1] = x0 * sn + x1 * c;
          }
        }
      }
    }
    return out;
  };
  // A rotation's transpose is the rotation by −θ, so backward rotates the gradient back.
  return withGrad(new Tensor(apply(x.data, 1), x.shape), "rope", [x], (g) => [apply(g, -1)]);
}
