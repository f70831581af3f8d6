// A data-parallel training worker (started by workers.ts): loads the base model and adapters once, then
// for each task sets the adapters' weights, backpropagates its rows and replies with the gradients.
import { parentPort, workerData } from "node:worker_threads";
import { loadLlama } from "../models/llama/load.js";
import { attachLora } from "../models/lora/attach.js";
import { Rng, type QuantType } from "../tensor/index.js";
import { lossAndBackward } from "./checkpointing.js";
import { collate } from "./data/batches.js";
import { quantizeFrozenTables } from "./frozen.js";
import type { WorkerInit, WorkerReply, WorkerTask } from "./workers.js";

const init = workerData as WorkerInit;
const port = parentPort!;
const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

try {
  const { model } = await loadLlama(init.model, init.quantize ? { quantize: init.quantize as QuantType } : {});
  if (init.quantize) quantizeFrozenTables(model); // as the main thread holds the base
  const lora = attachLora(model, { ...init.lora, seed: init.seed });
  const params = lora.params();
  port.on("message", (task: WorkerTask) => {
    try {
      task.params.forEach((p, i) => params[i]!.data.set(p));
      for (const p of params) p.grad = null;
      // Dropout draws from a stream fixed by (seed, step, worker), so a resumed run repeats it.
      lora.rng.setState(new Rng((init.seed * 1_000_003 + task.step * 7919 + init.index) >>> 0).state());
      let loss = 0;
      for (const part of task.parts) {
        if (part.weight === 0) continue;
        const batch = collate(init.examples, part.rows, init.padId);
        loss += lossAndBackward(model, batch, part.weight, init.checkpointing ? lora.rng : undefined) * part.weight;
      }
      const grads = params.map((p) => p.grad?.data.slice() ?? new Float32Array(p.size));
      reply(
        { grads, loss },
        grads.map((g) => g.buffer as ArrayBuffer),
      );
    } catch (e) {
      reply({ error: (e as Error).message });
    }
  });
  reply({ ready: true });
} catch (e) {
  reply({ error: (e as Error).message });
}
