// A data-parallel training worker (started by workers.ts): rebuilds the task from its description once,
// then for each step sets the parameters' values, computes its share and replies with the gradients.
// Failures go back as wire errors that keep an InfuseError's code and kind.
import { parentPort, workerData } from "node:worker_threads";
import { errorToWire } from "../core/worker-thread.js";
import { createReplica } from "./task-kinds.js";
import type { WorkerInit, WorkerReply, WorkerStep } from "./workers.js";

const init = workerData as WorkerInit;
const port = parentPort!;
const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

try {
  const task = await createReplica(init.task, init.replica);
  const params = task.params;
  port.on("message", (msg: WorkerStep) => {
    try {
      msg.params.forEach((p, i) => params[i]!.data.set(p));
      for (const p of params) p.grad = null;
      const loss = task.runShare(msg.work, msg.step, init.replica);
      const grads = params.map((p) => p.grad?.data.slice() ?? new Float32Array(p.size));
      reply(
        { grads, loss },
        grads.map((g) => g.buffer as ArrayBuffer),
      );
    } catch (e) {
      reply({ error: errorToWire(e) });
    }
  });
  reply({ ready: true });
} catch (e) {
  reply({ error: errorToWire(e) });
}
