// llama.cpp (node-llama-cpp) with a LoRA adapter applied, through the models' oracle (F32 KV cache,
// no flash attention), so an F32 base with an F32 adapter can be compared to 1e-3.
import type { LlamaModel } from "node-llama-cpp";
import { llamaCppLogits } from "../models/oracle.js";

export { loadOracleModel, oracle } from "../formats/oracle.js";
export { maxAbsDiff } from "../models/oracle.js";

/** llama.cpp's logits (V) after the last of `tokens`, with `loraFile` applied at scale 1 when given. */
export async function llamaCppLogitsWithLora(
  model: LlamaModel,
  tokens: number[],
  vocabSize: number,
  loraFile?: string,
): Promise<Float32Array> {
  const [row] = await llamaCppLogits(model, tokens, vocabSize, [tokens.length - 1], loraFile);
  return row!;
}
