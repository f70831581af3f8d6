// Data parallelism over worker threads (--workers N): every micro-batch's rows are split between this
// thread and N−1 workers, each holding the base model and a copy of the adapters; gradients come back
// and are summed with weights that make the result the gradient of the whole micro-batch's mean loss.
// Leaves out multi-machine training. Workers load the model themselves (no shared weight memory).
import { availableParallelism } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { InfuseError } from "../core/errors.js";
import type { LlamaModel } from "../models/llama/model.js";
import type { LoraSet } from "../models/lora/attach.js";
import { Tensor } from "../tensor/index.js";
import { lossAndBackward } from "./checkpointing.js";
import { collate } from "./data/batches.js";
import { IGNORE, type Example } from "./data/encode.js";
import type { ResolvedTuneOptions } from "./options.js";
import type { GradStep } from "./trainer.js";

/** What a worker needs to rebuild the model and adapters (sent once as workerData). */
export interface WorkerInit {
  model: string;
  quantize?: string;
  lora: { r: number; alpha: number; dropout: number; rslora: boolean; targets: string[] };
  examples: Example[];
  padId: number;
  seed: number;
  index: number;
  checkpointing: boolean;
}

/** One step's work for a worker: adapter weights, and its rows of each micro-batch with loss weights. */
export interface WorkerTask {
  step: number;
  params: Float32Array[];
  parts: { rows: number[]; weight: number }[];
}

export interface WorkerReply {
  grads?: Float32Array[];
  loss?: number;
  ready?: boolean;
  error?: string;
}

const labelled = (examples: Example[], rows: number[]): number =>
  rows.reduce((n, i) => n + examples[i]!.labels.reduce((c, l) => c + (l !== IGNORE ? 1 : 0), 0), 0);

/** Starts the worker script: compiled JS directly, TypeScript sources through tsx's ESM hooks. */
function startWorker(init: WorkerInit, threads: number): Worker {
  const self = import.meta.url;
  const ts = self.endsWith(".ts");
  const entry = new URL(`./worker-main.${ts ? "ts" : "js"}`, self);
  const env = { ...process.env, INFUSE_THREADS: String(threads) };
  if (!ts) return new Worker(entry, { workerData: init, env });
  const tsxApi = pathToFileURL(fileURLToPath(new URL("../../node_modules/tsx/dist/esm/api/index.mjs", self))).href;
  const code = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { eval: true, workerData: init, env });
}

function call(w: Worker, msg?: WorkerTask): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerReply): void => {
      cleanup();
      if (m.error)
        reject(
          new InfuseError("train.worker_failed", `training worker: ${m.error}`, {
            hint: "run with --workers 1 to see the error in this thread",
          }),
        );
      else resolve(m);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new InfuseError("train.worker_failed", `training worker: ${e.message}`, { cause: e }));
    };
    const cleanup = (): void => {
      w.off("message", onMessage);
      w.off("error", onError);
    };
    w.on("message", onMessage);
    w.on("error", onError);
    if (msg) w.postMessage(msg);
  });
}

/** `modelPath`: the resolved local file or folder (workers do not resolve hub references again). */
export async function workerGradStep(
  o: ResolvedTuneOptions,
  modelPath: string,
  examples: Example[],
  model: LlamaModel,
  lora: LoraSet,
  padId: number,
): Promise<{ step: GradStep; close: () => Promise<void> }> {
  const n = o.workers;
  const threads = Math.max(1, Math.floor(availableParallelism() / n));
  const base = {
    model: modelPath,
    ...(o.quantize ? { quantize: o.quantize } : {}),
    lora: { ...lora.options },
    examples,
    padId,
    seed: o.seed,
    checkpointing: o.gradientCheckpointing,
  };
  const workers = Array.from({ length: n - 1 }, (_, i) => startWorker({ ...base, index: i + 1 }, threads));
  try {
    await Promise.all(workers.map((w) => call(w)));
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }
  const params = lora.params();
  // stepNo is the trainer's step (not a count kept here), so a resumed run seeds the same dropout.
  const step: GradStep = async (batches, stepNo) => {
    const parts: { rows: number[]; weight: number }[][] = Array.from({ length: n }, () => []);
    for (const idx of batches) {
      const total = Math.max(1, labelled(examples, idx));
      for (let k = 0; k < n; k++) {
        const rows = idx.filter((_, j) => j % n === k);
        if (rows.length > 0) parts[k]!.push({ rows, weight: labelled(examples, rows) / total / batches.length });
      }
    }
    const snapshot = params.map((p) => p.data.slice());
    const pending = workers.map((w, i) => call(w, { step: stepNo, params: snapshot, parts: parts[i + 1]! }));
    let loss = 0;
    for (const part of parts[0]!) {
      if (part.weight === 0) continue;
      const batch = collate(examples, part.rows, padId);
      loss += lossAndBackward(model, batch, part.weight, o.gradientCheckpointing ? lora.rng : undefined) * part.weight;
    }
    for (const reply of await Promise.all(pending)) {
      loss += reply.loss!;
      reply.grads!.forEach((g, i) => {
        const p = params[i]!;
        if (!p.grad) p.grad = new Tensor(g, p.shape);
        else {
          const d = p.grad.data;
          for (let j = 0; j < d.length; j++) d[j]! += g[j]!;
        }
      });
    }
    return loss;
  };
  return { step, close: async () => void (await Promise.all(workers.map((w) => w.terminate()))) };
}
