// The one node-llama-cpp runtime of the process (CPU build, prebuilt binary, never compiled at
// run time) and GGUF model loading with errors that name the file. Shared by chat and embeddings.
import { computeThreads } from "../../core/threads.js";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type LlamaOptions } from "node-llama-cpp";
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

/** getLlama's options a caller may add; `build` is not one of them: it is always "never". */
export type LlamaRuntimeOverrides = Omit<LlamaOptions, "build" | "gpu">;

/**
 * A node-llama-cpp runtime on its prebuilt CPU binary, never compiled: with `build: "never"`, a binary
 * that fails its self-test (it did under load on one Xeon) is an error here instead of a silent
 * cmake build whose result segfaulted. Every loader of node-llama-cpp in infuse (product, benchmarks,
 * test oracles) goes through this.
 */
export async function openLlamaRuntime(overrides: LlamaRuntimeOverrides = {}): Promise<Llama> {
  try {
    return await getLlama({
      maxThreads: llamaThreads(),
      logLevel: LlamaLogLevel.error,
      // llama.cpp's own log lines are not ours to print; only the CLI writes to the terminal
      logger: () => {},
      progressLogs: false,
      ...overrides,
      gpu: false,
      build: "never",
    });
  } catch (e) {
    throw new InfuseError(
      "llama.no_binary",
      `node-llama-cpp could not load its prebuilt llama.cpp binary (infuse never builds it from source): ${(e as Error).message}`,
      {
        kind: "internal",
        hint: "reinstall node-llama-cpp so its prebuilt binary for this platform is present (`npm install`); `npx --no node-llama-cpp inspect gpu` shows what it found",
        cause: e,
      },
    );
  }
}

/** The process's one runtime (see openLlamaRuntime), made on first use. */
export function loadLlama(): Promise<Llama> {
  runtime ??= openLlamaRuntime().catch((e: unknown) => {
    runtime = undefined;
    throw e;
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
