// llama.cpp (node-llama-cpp, CPU prebuilt) as the oracle for formats and tokenizer tests:
// one Llama instance per test file, models loaded from paths, raw next-token logits.
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { openLlamaRuntime } from "../../src/rag/llm/llama-runtime.js";

let llama: Promise<Llama> | undefined;

export function oracle(): Promise<Llama> {
  llama ??= openLlamaRuntime(); // prebuilt binary, never built from source
  return llama;
}

export async function loadOracleModel(modelPath: string): Promise<LlamaModel> {
  return (await oracle()).loadModel({ modelPath, gpuLayers: 0 });
}

/** Raw logits llama.cpp gives for the token after `tokens` (index = token id). */
export async function oracleLogits(
  model: LlamaModel,
  tokens: number[],
  vocabSize: number,
  loraFile?: string,
): Promise<Float32Array> {
  const ctx = await model.createContext({
    contextSize: 128,
    batchSize: 128,
    threads: 1,
    ...(loraFile ? { lora: { adapters: [{ filePath: loraFile, scale: 1 }] } } : {}),
  });
  try {
    const seq = ctx.getSequence();
    const input = tokens.map((t, i) =>
      i === tokens.length - 1 ? ([t, { generateNext: { logits: true } }] as const) : t,
    );
    const out = await seq.controlledEvaluate(input as never);
    const logits = out[tokens.length - 1]?.next.logits;
    if (!logits) throw new Error("llama.cpp returned no logits");
    const result = new Float32Array(vocabSize);
    for (const [tok, v] of logits) result[tok] = v;
    return result;
  } finally {
    await ctx.dispose();
  }
}

/** Mean log-probability llama.cpp gives each next token of `tokens` (a fluency score). */
export async function oracleMeanLogProb(model: LlamaModel, tokens: number[]): Promise<number> {
  const ctx = await model.createContext({ contextSize: 256, batchSize: 256, threads: 1 });
  try {
    const input = tokens.map((t) => [t, { generateNext: { logits: true } }] as const);
    const out = await ctx.getSequence().controlledEvaluate(input as never);
    let sum = 0;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const logits = out[i]?.next.logits;
      if (!logits) throw new Error(`llama.cpp returned no logits at ${i}`);
      let max = -Infinity;
      for (const v of logits.values()) max = Math.max(max, v);
      let z = 0;
      for (const v of logits.values()) z += Math.exp(v - max);
      sum += logits.get(tokens[i + 1]! as Token)! - max - Math.log(z);
    }
    return sum / (tokens.length - 1);
  } finally {
    await ctx.dispose();
  }
}

const DISPOSE_WAIT_MS = 10_000;

/** Frees llama.cpp at the end of a file; never holds the suite up if a native handle lingers. */
export async function disposeOracle(): Promise<void> {
  if (!llama) return;
  const l = await llama;
  llama = undefined;
  await Promise.race([l.dispose(), new Promise((r) => setTimeout(r, DISPOSE_WAIT_MS).unref())]);
}
