// How many threads native kernels (onnxruntime, llama.cpp) may use: the machine's cores, or
// INFUSE_THREADS. More threads than cores make spin-waiting kernels slow down a hundredfold.
import { availableParallelism } from "node:os";

export function computeThreads(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env["INFUSE_THREADS"]);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(1, availableParallelism());
}
