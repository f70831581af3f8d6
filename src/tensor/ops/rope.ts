// Rotary position embedding on x (B, H, T, D) in both layouts: "interleaved" rotates pairs
// (x[2i], x[2i+1]) as llama.cpp does for GGUF Llama; "half" rotates (x[i], x[i+D/2]) as Hugging Face does.
// Frequency scaling (YaRN, llama3) is left to the caller through `invFreq`.
import { alloc } from "../arena.js";
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
  const { cos, sin } = angleTables(positions, invFreq, half);
  const perBatch = positions.length !== t;
  const interleaved = options.layout === "interleaved";
  // The two lanes of pair i: (2i, 2i+1) interleaved, (i, i + D/2) half.
  const [lane0, lane1] = interleaved ? [2, 1] : [1, half];
  const g: Geometry = { bsz, t, heads, half, sb, sh, ss, lane0, lane1, perBatch };
  const apply = (src: Float32Array, sign: number): Float32Array => {
    const out = rd === d ? alloc(src.length) : src.slice();
    rotate(src, out, cos, sin, sign, g);
    return out;
  };
  // A rotation's transpose is the rotation by −θ, so backward rotates the gradient back.
  return withGrad(new Tensor(apply(x.data, 1), x.shape), "rope", [x], (g) => [apply(g, -1)]);
}

/** Where rope's pairs lie: strides of (b, h, s), the two lanes of pair i, positions per batch row or shared. */
interface Geometry {
  bsz: number;
  t: number;
  heads: number;
  half: number;
  sb: number;
  sh: number;
  ss: number;
  lane0: number;
  lane1: number;
  perBatch: boolean;
}

/** out = src rotated by sign·angle; a module-level loop with its numbers in locals (JITs tighter than a closure). */
function rotate(src: Float32Array, out: Float32Array, cos: Float32Array, sin: Float32Array, sign: number, g: Geometry) {
  const { bsz, t, heads, half, sb, sh, ss, lane0, lane1, perBatch } = g;
  for (let b = 0; b < bsz; b++) {
    for (let s = 0; s < t; s++) {
      const p = (perBatch ? b * t + s : s) * half;
      for (let h = 0; h < heads; h++) {
        const row = b * sb + h * sh + s * ss;
        for (let i = 0; i < half; i++) {
          const c = cos[p + i]!;
          const sn = sign * sin[p + i]!;
          const i0 = row + lane0 * i;
          const i1 = i0 + lane1;
          const x0 = src[i0]!;
          const x1 = src[i1]!;
          out[i0] = x0 * c - x1 * sn;
          out[i1] = x0 * sn + x1 * c;
        }
      }
    }
  }
}

interface AngleTables {
  positions: Int32Array; // a copy: the caller's array may be refilled
  invFreq: Float32Array;
  cos: Float32Array;
  sin: Float32Array;
}

/**
 * cos and sin of positions × invFreq, (P, D/2) each. Every layer of a forward (and its recompute)
 * rotates by the same positions, so the last tables are kept per positions array and reused while
 * its values and the frequencies are unchanged.
 */
const tableCache = new WeakMap<Int32Array, AngleTables>();

function angleTables(positions: Int32Array, invFreq: Float32Array, half: number): AngleTables {
  const hit = tableCache.get(positions);
  if (hit && hit.invFreq === invFreq && hit.cos.length === positions.length * half && same(hit.positions, positions))
    return hit;
  const cos = new Float32Array(positions.length * half); // (P, D/2)
  const sin = new Float32Array(positions.length * half);
  for (let p = 0; p < positions.length; p++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[p]! * invFreq[i]!;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  const tables = { positions: positions.slice(), invFreq, cos, sin };
  tableCache.set(positions, tables);
  return tables;
}

function same(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
