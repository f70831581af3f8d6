// Shared checks for the decoder parity tests: greedy continuation with our KV-cache decoder, and the
// comparison of our logits with llama.cpp's at every generated position.
import type { LlamaModel as OracleModel } from "node-llama-cpp";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import type { LlamaModel } from "../../src/models/llama/model.js";
import { argmax, llamaCppLogits, maxAbsDiff } from "./oracle.js";

/** `n` greedy tokens after `prompt` and the logits (V) that chose each. */
export function greedy(model: LlamaModel, prompt: number[], n: number): { tokens: number[]; logits: Float32Array[] } {
  const dec = new LlamaDecoder(model);
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  let l = dec.eval(prompt);
  for (let i = 0; i < n; i++) {
    logits.push(l);
    tokens.push(argmax(l));
    if (i + 1 < n) l = dec.eval([tokens[i]!]);
  }
  return { tokens, logits };
}

export interface Agreement {
  /** Max |ours − llama.cpp| over the last prompt position. */
  promptDiff: number;
  /** Max |ours − llama.cpp| over all 64 generated positions. */
  maxDiff: number;
  /** Fraction of generated positions where llama.cpp's argmax is our token. */
  top1: number;
}

/** Our greedy continuation checked position by position against llama.cpp's logits. */
export async function agreement(model: LlamaModel, oracle: OracleModel, prompt: number[], n = 64): Promise<Agreement> {
  const { tokens, logits } = greedy(model, prompt, n);
  const all = [...prompt, ...tokens.slice(0, -1)];
  const at = Array.from({ length: n }, (_, i) => prompt.length - 1 + i);
  const ref = await llamaCppLogits(oracle, all, model.config.vocabSize, at);
  let maxDiff = 0;
  let same = 0;
  ref.forEach((r, i) => {
    maxDiff = Math.max(maxDiff, maxAbsDiff(r, logits[i]!));
    if (argmax(r) === tokens[i]) same++;
  });
  return { promptDiff: maxAbsDiff(ref[0]!, logits[0]!), maxDiff, top1: same / n };
}
