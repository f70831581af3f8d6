// Data parallelism over worker threads (workers > 1), for any parallel TrainingTask: N−1 workers each
// rebuild the task from its description (task-kinds.ts); every optimizer step the task splits its
// micro-batches into N shares, this thread computes share 0, each worker one more on a copy of the
// parameters, and the gradients come back and are summed. A worker's InfuseError reaches this thread
// with its code, kind, hint and details. Leaves out multi-machine training; no shared weight memory.
import { availableParallelism } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { InfuseError, type ErrorKind } from "../core/errors.js";
import { Tensor } from "../tensor/index.js";
import type { TaskDescription, TrainingTask } from "./task.js";
import type { GradStep } from "./trainer.js";

/** Sent once as workerData: the task to rebuild and this worker's replica index (1…). */
export interface WorkerInit {
  task: TaskDescription;
  replica: number;
}

/** One step's work for a worker: the parameters' values and its share of the step. */
export interface WorkerStep {
  step: number;
  params: Float32Array[];
  work: unknown;
}

/** An error as it crosses the thread boundary (an Error's class does not survive structured clone). */
export interface WireError {
  message: string;
  code?: string;
  kind?: ErrorKind;
  hint?: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export interface WorkerReply {
  grads?: Float32Array[];
  loss?: number;
  ready?: boolean;
  error?: WireError;
}

/** What a worker sends for a failure: an InfuseError's fields (details only if they can be cloned). */
export function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  const wire: WireError = { message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  if (e instanceof InfuseError) {
    wire.code = e.code;
    wire.kind = e.kind;
    if (e.hint !== undefined) wire.hint = e.hint;
    try {
      wire.details = structuredClone(e.details);
    } catch {
      // details holding functions or handles stay behind
    }
  }
  return wire;
}

/** The error this thread throws for a worker's failure: the worker's own code and kind when it had one. */
export function fromWire(w: WireError, replica: number): InfuseError {
  const cause = Object.assign(new Error(w.message), w.stack ? { stack: w.stack } : {});
  if (w.code) {
    return new InfuseError(w.code, w.message, {
      kind: w.kind ?? "internal",
      hint: w.hint ?? "run with --workers 1 to see the error in this thread",
      details: { ...w.details, worker: replica },
      cause,
    });
  }
  return new InfuseError("train.worker_failed", `training worker ${replica}: ${w.message}`, {
    hint: "run with --workers 1 to see the error in this thread",
    details: { worker: replica },
    cause,
  });
}

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

function call(w: Worker, replica: number, msg?: WorkerStep): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerReply): void => {
      cleanup();
      if (m.error) reject(fromWire(m.error, replica));
      else resolve(m);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new InfuseError("train.worker_failed", `training worker ${replica}: ${e.message}`, { cause: e }));
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

/** Starts `n − 1` workers for `task` (each rebuilds it) and returns the step that uses them. */
export async function startWorkers<W>(
  task: TrainingTask<W>,
  n: number,
): Promise<{ step: GradStep; close: () => Promise<void> }> {
  const parallel = task.parallel!;
  const threads = Math.max(1, Math.floor(availableParallelism() / n));
  const description = parallel.describe();
  const workers = Array.from({ length: n - 1 }, (_, i) => startWorker({ task: description, replica: i + 1 }, threads));
  const close = async (): Promise<void> => void (await Promise.all(workers.map((w) => w.terminate())));
  try {
    await Promise.all(workers.map((w, i) => call(w, i + 1)));
  } catch (e) {
    await close();
    throw e;
  }
  const params = task.params;
  // stepNo is the loop's step (not a count kept here), so a resumed run seeds what it seeded before.
  const step: GradStep = async (batches, stepNo) => {
    const shares = parallel.split(batches, n);
    const snapshot = params.map((p) => p.data.slice());
    const pending = workers.map((w, i) => call(w, i + 1, { step: stepNo, params: snapshot, work: shares[i + 1] }));
    let loss: number;
    try {
      loss = task.runShare(shares[0]!, stepNo, 0);
    } catch (e) {
      await Promise.allSettled(pending); // the workers' replies (or errors) are not left unhandled
      throw e;
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
  return { step, close };
}
