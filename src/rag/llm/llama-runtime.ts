// The one node-llama-cpp runtime of the process (CPU build, prebuilt binary, never compiled at
// run time) and GGUF model loading with errors that name the file. Shared by chat and embeddings.
import { computeThreads } from "../../core/threads.js";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import { cancelledError, InfuseError } from "../../core/errors.js";

let runtime: Promise<Llama> | undefined;

/**
 * node-llama-cpp defaults to at least 4 threads; on a machine with fewer cores the extra
 * threads spin against each other and generation slows a hundredfold, so cap at the cores we
 * have (or INFUSE_THREADS).
 */
export function llamaThreads(): number {
  return computeThreads();
}

export function loadLlama(): Promise<Llama> {
  runtime ??= getLlama({
    gpu: false,
    build: "never",
    maxThreads: llamaThreads(),
    logLevel: LlamaLogLevel.error,
    // llama.cpp's own log lines are not ours to print; only the CLI writes to the terminal
    logger: () => {},
  }).catch((e: unknown) => {
    runtime = undefined;
    throw new InfuseError(
      "llama.no_binary",
      `node-llama-cpp could not load its llama.cpp binary: ${(e as Error).message}`,
      {
        kind: "internal",
        hint: "build it once with `npx --no node-llama-cpp source download` (needs cmake and a C++ compiler), then retry",
        cause: e,
      },
    );
  });
  return runtime;
}

export async function loadGgufModel(file: string, signal?: AbortSignal): Promise<LlamaModel> {
  const llama = await loadLlama();
  try {
    return await llama.loadModel({ modelPath: file, ...(signal ? { loadSignal: signal } : {}) });
  } catch (e) {
    if (signal?.aborted) throw cancelledError(`loading ${file}`, e);
    throw new InfuseError("llama.model_load_failed", `llama.cpp could not load ${file}: ${(e as Error).message}`, {
      kind: "input",
      hint: "check that the file is a complete GGUF model of an architecture llama.cpp supports",
      cause: e,
      details: { path: file },
    });
  }
}
