// GGUF LoRA adapters as llama.cpp loads them (general.type = adapter, adapter.type = lora,
// adapter.lora.alpha; tensors `<weight>.lora_a` [in, r] and `.lora_b` [r, out] in GGML dims),
// and the PEFT → GGUF conversion. Leaves out quantized adapters.
import { InfuseError } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { MODEL_TYPES, hfToGgufName } from "../hf/names.js";
import { permuteQK } from "../hf/permute.js";
import type { PeftAdapter } from "../peft.js";
import { GGUF_KEYS } from "./keys.js";
import type { LoraPair } from "../peft.js";
import { kv } from "./kv.js";
import { GgmlType } from "./types.js";
import { writeGguf, type GgufTensorInput } from "./writer.js";

export interface GgufLoraInput {
  /** general.architecture of the base model. */
  architecture: string;
  alpha: number;
  /** Targets named as in GGUF (`blk.0.attn_q.weight`); B rows already in GGUF order. */
  pairs: LoraPair[];
  name?: string;
}

export async function writeGgufLora(path: string, input: GgufLoraInput, options: TaskOptions = {}): Promise<void> {
  const metadata = new Map([
    [GGUF_KEYS.architecture, kv.str(input.architecture)],
    [GGUF_KEYS.type, kv.str("adapter")],
    [GGUF_KEYS.name, kv.str(input.name ?? "infuse-lora")],
    [GGUF_KEYS.adapterType, kv.str("lora")],
    [GGUF_KEYS.loraAlpha, kv.f32(input.alpha)],
  ]);
  const tensors: GgufTensorInput[] = input.pairs.flatMap((p) => [
    { name: `${p.target}.lora_a`, dims: [p.in, p.r], type: GgmlType.F32, data: p.a },
    { name: `${p.target}.lora_b`, dims: [p.r, p.out], type: GgmlType.F32, data: p.b },
  ]);
  await writeGguf(path, { metadata, tensors }, options);
}

/** The base model facts a PEFT → GGUF conversion needs (from its config.json). */
export interface LoraBaseModel {
  modelType: string;
  heads: number;
  kvHeads: number;
}

/** Maps PEFT pairs to GGUF names and permutes lora_B rows of Q/K as the base weights were. */
export function peftToGgufLora(adapter: PeftAdapter, base: LoraBaseModel): GgufLoraInput {
  const spec = MODEL_TYPES[base.modelType];
  if (!spec) {
    throw new InfuseError("lora.unsupported_model", `base model_type ${base.modelType} is not supported`, {
      kind: "input",
    });
  }
  const pairs = adapter.pairs.map((p) => {
    const target = hfToGgufName(spec.family, p.target);
    if (!target) {
      throw new InfuseError("lora.unknown_target", `adapter target ${p.target} has no GGUF name`, {
        kind: "input",
        details: { tensor: p.target },
      });
    }
    let b = p.b;
    if (spec.permuteQK && target.endsWith("attn_q.weight")) b = permuteQK(b, p.out, base.heads);
    if (spec.permuteQK && target.endsWith("attn_k.weight")) b = permuteQK(b, p.out, base.kvHeads);
    return { target, a: p.a, b, r: p.r, in: p.in, out: p.out };
  });
  return { architecture: spec.arch, alpha: adapter.config.lora_alpha, pairs };
}
