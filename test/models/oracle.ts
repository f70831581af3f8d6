// llama.cpp (node-llama-cpp) as the models' oracle: raw logits with an F32 KV cache and no flash
// attention, so F32 models can be compared to 1e-3 (the default F16 cache alone moves logits ~1e-2).
import type { LlamaModel, Token } from "node-llama-cpp";

export { loadOracleModel, oracle } from "../formats/oracle.js";

/**
 * llama.cpp's logits after each of `tokens` at the positions in `at` (default: the last), each (V);
 * with `loraFile`, that GGUF LoRA adapter is applied at scale 1.
 */
export async function llamaCppLogits(
  model: LlamaModel,
  tokens: number[],
  vocabSize: number,
  at: number[] = [tokens.length - 1],
  loraFile?: string,
): Promise<Float32Array[]> {
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
    const want = new Set(at);
    const input = tokens.map((t, i) => (want.has(i) ? ([t, { generateNext: { logits: true } }] as const) : t));
    const out = await ctx.getSequence().controlledEvaluate(input as never);
    return at.map((i) => {
      const logits = out[i]?.next.logits;
      if (!logits) throw new Error(`llama.cpp returned no logits at ${i}`);
      const row = new Float32Array(vocabSize);
      for (const [tok, v] of logits) row[tok as Token] = v;
      return row;
    });
  } finally {
    await ctx.dispose();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}
