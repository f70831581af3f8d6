// Which GGML type each tensor of an exported model gets, as llama.cpp's llama_model_quantize mixes
// them (llama_tensor_get_type): the scheme's base type for matrices; output.weight (or token_embd
// when the output is tied to it) as Q6_K; for Q4_K_M and Q5_K_M, attn_v and ffn_down as Q6_K in the
// layers use_more_bits picks; 1-D tensors (norms) stay F32. A matrix whose rows do not fill the
// type's blocks falls back (llama.cpp: Q5_0/Q5_1 for Q4_K/Q5_K; here Q8_0, the nearest type we write,
// else F16/F32). Leaves out the IQ and Q2/Q3 schemes and importance matrices.
import { GgmlType } from "../../formats/gguf/index.js";

export const EXPORT_QUANTS = ["f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"] as const;
export type ExportQuant = (typeof EXPORT_QUANTS)[number];

/** llama.cpp's LLAMA_FTYPE_MOSTLY_* of each scheme (general.file_type). */
export const FILE_TYPE: Record<ExportQuant, number> = { f16: 1, q8_0: 7, q4_0: 2, q4_k_m: 15, q5_k_m: 17, q6_k: 18 };

const BASE: Record<ExportQuant, GgmlType> = {
  f16: GgmlType.F16,
  q8_0: GgmlType.Q8_0,
  q4_0: GgmlType.Q4_0,
  q4_k_m: GgmlType.Q4_K,
  q5_k_m: GgmlType.Q5_K,
  q6_k: GgmlType.Q6_K,
};

const BLOCK: Partial<Record<GgmlType, number>> = {
  [GgmlType.Q8_0]: 32,
  [GgmlType.Q4_0]: 32,
  [GgmlType.Q4_K]: 256,
  [GgmlType.Q5_K]: 256,
  [GgmlType.Q6_K]: 256,
};

/** llama.cpp's choice of layers that get more bits: the first and last eighth, and every third between. */
export function useMoreBits(layer: number, layers: number): boolean {
  const e = Math.floor(layers / 8);
  return layer < e || layer >= Math.floor((7 * layers) / 8) || (layer - e) % 3 === 2;
}

export interface TensorInfo {
  name: string;
  /** GGUF dims: dims[0] is the row length. */
  dims: number[];
}

/** The type `t` is written as under `scheme`, in a model of `layers` blocks (`tiedOutput`: no output.weight). */
export function exportType(scheme: ExportQuant, t: TensorInfo, layers: number, tiedOutput: boolean): GgmlType {
  if (t.dims.length < 2) return GgmlType.F32;
  let type = BASE[scheme];
  const isOutput = t.name === "output.weight" || (tiedOutput && t.name === "token_embd.weight");
  const layer = Number(/^blk\.(\d+)\./.exec(t.name)?.[1] ?? -1);
  if (scheme !== "f16" && scheme !== "q8_0" && isOutput) type = GgmlType.Q6_K;
  else if ((scheme === "q4_k_m" || scheme === "q5_k_m") && layer >= 0) {
    const more = useMoreBits(layer, layers);
    if (more && (t.name.endsWith("attn_v.weight") || t.name.endsWith("ffn_down.weight"))) type = GgmlType.Q6_K;
  }
  const block = BLOCK[type];
  if (block !== undefined && t.dims[0]! % block !== 0) {
    if (t.dims[0]! % 32 === 0) return GgmlType.Q8_0;
    return scheme === "f16" ? GgmlType.F16 : GgmlType.F32;
  }
  return type;
}
