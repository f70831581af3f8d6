// llama.cpp (node-llama-cpp) with a LoRA adapter applied: raw logits with an F32 KV cache and no flash
// attention, so an F32 base with an F32 adapter can be compared to 1e-3.
import type { LlamaModel, Token } from "node-llama-cpp";

export { loadOracleModel, oracle } from "../formats/oracle.js";

/** llama.cpp's logits (V) after the last of `tokens`, with `loraFile` applied at scale 1 when given. */
export async function llamaCppLogitsWithLora(
  model: LlamaModel,
  tokens: number[],
  vocabSize: number,
  loraFile?: string,
): Promise<Float32Array> {
  const size = Math.max(64, tokens.length + 1);
  const ctx = await model.createContext({
    contextSize: size,
    batchSize: size,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
    ...(loraFile ? { lora: { adapters: [{ filePath: loraFile, scale: 1 }] } } : {}),
  });
  try {
    const input = tokens.map((t, i) =>
      i === tokens.length - 1 ? ([t, { generateNext: { logits: true } }] as const) : t,
    );
    const out = await ctx.getSequence().controlledEvaluate(input as never);
    const logits = out[tokens.length - 1]?.next.logits;
    if (!logits) throw new Error("llama.cpp returned no logits");
    const row = new Float32Array(vocabSize);
    for (const [tok, v] of logits) row[tok as Token] = v;
    return row;
  } finally {
    await ctx.dispose();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
