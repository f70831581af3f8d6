// llama.cpp (node-llama-cpp, CPU prebuilt) as the oracle for formats and tokenizer tests:
// one Llama instance per test file, models loaded from paths, raw next-token logits.
import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";

let llama: Promise<Llama> | undefined;

export function oracle(): Promise<Llama> {
  llama ??= getLlama({ gpu: false, build: "never", logLevel: "error" as never, progressLogs: false });
  return llama;
}

export async function loadOracleModel(modelPath: string): Promise<LlamaModel> {
  return (await oracle()).loadModel({ modelPath, gpuLayers: 0 });
}

/** Raw logits llama.cpp gives for the token after `tokens` (index = token id). */
export async function oracleLogits(model: LlamaModel, tokens: number[], vocabSize: number): Promise<Float32Array> {
  const ctx = await model.createContext({ contextSize: 128, batchSize: 128, threads: 1 });
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
