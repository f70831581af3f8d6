// RoPE scaling as Hugging Face config.json states it (`rope_scaling`) and as GGUF metadata states it
// (`{arch}.rope.scaling.*`, llama.cpp's keys), read into one description both the converter and the
// decoder use. Types: none, linear (position interpolation), llama3, yarn. Leaves out dynamic NTK and
// LongRoPE, which change with the sequence length.
import { InfuseError } from "../../core/errors.js";
import type { GgufValue } from "../gguf/types.js";
import { llama3InvFreq, ropeInvFreq } from "../../tensor/ops/rope.js";

export type RopeScaling =
  | { type: "none" }
  | { type: "linear"; factor: number }
  | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContextLength: number }
  | {
      type: "yarn";
      factor: number;
      originalContextLength: number;
      /** Rotations in the original context above which a dimension keeps its frequency (32). */
      betaFast: number;
      /** Rotations below which a dimension is fully interpolated (1). */
      betaSlow: number;
      /** Multiplier on YaRN's magnitude scale 0.1·ln(factor) + 1 (llama.cpp's rope.scaling.attn_factor). */
      attnFactor: number;
    };

export const SUPPORTED_ROPE_SCALING = ["none", "linear", "llama3", "yarn"] as const;

/** YaRN's magnitude scale for a context stretched `factor` times (1 when not stretched). */
export function yarnMagnitude(factor: number): number {
  return factor <= 1 ? 1 : 0.1 * Math.log(factor) + 1;
}

function unsupported(source: string, type: string): InfuseError {
  return new InfuseError("model.unsupported_rope_scaling", `${source}: RoPE scaling "${type}" is not supported`, {
    kind: "input",
    hint: `supported: ${SUPPORTED_ROPE_SCALING.join(", ")}`,
    details: { type, supported: [...SUPPORTED_ROPE_SCALING] },
  });
}

function badField(source: string, field: string, value: unknown): InfuseError {
  return new InfuseError(
    "model.bad_rope_scaling",
    `${source}: ${field} must be a positive number, got ${String(value)}`,
    {
      kind: "input",
      hint: "fix the value in the model's config (or convert the model again)",
      details: { field },
    },
  );
}

/** config.json's `rope_scaling` (null or absent = none); YaRN's original context defaults to max_position_embeddings. */
export function ropeScalingFromHf(cfg: Record<string, unknown>, source: string): RopeScaling {
  const s = cfg["rope_scaling"] as Record<string, unknown> | null | undefined;
  if (s === null || s === undefined) return { type: "none" };
  const type = String(s["rope_type"] ?? s["type"] ?? "default");
  const num = (key: string, fallback?: number): number => {
    const v = s[key] ?? fallback;
    if (typeof v !== "number" || !(v > 0)) throw badField(source, `rope_scaling.${key}`, v);
    return v;
  };
  switch (type) {
    case "default":
      return { type: "none" };
    case "linear":
      return { type: "linear", factor: num("factor") };
    case "llama3":
      return {
        type: "llama3",
        factor: num("factor"),
        lowFreqFactor: num("low_freq_factor", 1),
        highFreqFactor: num("high_freq_factor", 4),
        originalContextLength: num("original_max_position_embeddings", 8192),
      };
    case "yarn": {
      const factor = num("factor");
      const maxPositions =
        typeof cfg["max_position_embeddings"] === "number" ? cfg["max_position_embeddings"] : undefined;
      // HF's attention_factor replaces the default magnitude scale; llama.cpp multiplies it in.
      const attention = s["attention_factor"];
      return {
        type: "yarn",
        factor,
        originalContextLength: num("original_max_position_embeddings", maxPositions),
        betaFast: num("beta_fast", 32),
        betaSlow: num("beta_slow", 1),
        attnFactor: typeof attention === "number" ? attention / yarnMagnitude(factor) : 1,
      };
    }
    default:
      throw unsupported(source, type);
  }
}

/** llama.cpp's `{arch}.rope.scaling.*` keys (absent = none). llama3 scaling lives in rope_freqs.weight. */
export function ropeScalingFromGguf(
  get: (key: string) => GgufValue | undefined,
  arch: string,
  source: string,
): RopeScaling {
  const num = (key: string, fallback: number): number => {
    const v = get(`${arch}.rope.scaling.${key}`);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!(n > 0)) throw badField(source, `${arch}.rope.scaling.${key}`, v);
    return n;
  };
  const type = String(get(`${arch}.rope.scaling.type`) ?? "none");
  // llama.cpp: a factor of 0 (or none) means unscaled.
  const factorValue = Number(get(`${arch}.rope.scaling.factor`) ?? get(`${arch}.rope.scale_linear`) ?? 0);
  const factor = factorValue > 0 ? factorValue : 1;
  switch (type) {
    case "none":
      return { type: "none" };
    case "linear":
      return factor === 1 ? { type: "none" } : { type: "linear", factor };
    case "yarn": {
      const context = get(`${arch}.context_length`);
      return {
        type: "yarn",
        factor,
        originalContextLength: num("original_context_length", Number(context ?? 2048)),
        betaFast: num("yarn_beta_fast", 32),
        betaSlow: num("yarn_beta_slow", 1),
        attnFactor: num("attn_factor", 1),
      };
    }
    default:
      throw unsupported(source, type);
  }
}

/** llama3 scaling as per-frequency divisors, the form GGUF stores in rope_freqs.weight (D/2 values). */
export function llama3FreqFactors(
  s: Extract<RopeScaling, { type: "llama3" }>,
  headDim: number,
  base: number,
): Float32Array {
  const scaled = llama3InvFreq(headDim, base, s);
  return ropeInvFreq(headDim, base).map((f, i) => f / scaled[i]!);
}
