// Data parallelism over worker threads (workers > 1), for any parallel TrainingTask: N−1 workers each
// rebuild the task from its description (task-kinds.ts); every optimizer step the task splits its
// micro-batches into N shares, this thread computes share 0, each worker one more on a copy of the
// parameters, and the gradients come back and are summed. A worker's InfuseError reaches this thread
// with its code, kind, hint and details. Leaves out multi-machine training; no shared weight memory.
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { InfuseError } from "../core/errors.js";
import { errorFromWire, startModuleWorker, type WireError } from "../core/worker-thread.js";
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

export interface WorkerReply {
  grads?: Float32Array[];
  loss?: number;
  ready?: boolean;
  error?: WireError;
}

/** The error this thread throws for a worker's failure: the worker's own code and kind when it had one. */
function workerError(w: WireError, replica: number): InfuseError {
  return errorFromWire(w, "train.worker_failed", {
    prefix: `training worker ${replica}: `,
    hint: "run with --workers 1 to see the error in this thread",
    details: { worker: replica },
  });
}

/** Starts the worker script (workers get an equal share of the CPU threads for their ops). */
function startWorker(init: WorkerInit, threads: number): Worker {
  const env = { ...process.env, INFUSE_THREADS: String(threads) };
  return startModuleWorker(import.meta.url, "./worker-main", { workerData: init, env });
}

function call(w: Worker, replica: number, msg?: WorkerStep): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerReply): void => {
      cleanup();
      if (m.error) reject(workerError(m.error, replica));
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

/**
 * Refuses more worker threads than the machine has cores (`train.too_many_workers`): each is a model
 * replica, so past the cores they only add memory and contention.
 */
export function checkWorkers(n: number, cores = availableParallelism()): void {
  if (n > cores) {
    throw new InfuseError("train.too_many_workers", `workers = ${n} is more than this machine's ${cores} cores`, {
      kind: "usage",
      hint: `set --workers (workers) to at most ${cores}`,
      details: { workers: n, cores },
    });
  }
}

/** Starts `n − 1` workers for `task` (each rebuilds it) and returns the step that uses them. */
export async function startWorkers<W>(
  task: TrainingTask<W>,
  n: number,
): Promise<{ step: GradStep; close: () => Promise<void> }> {
  checkWorkers(n);
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
