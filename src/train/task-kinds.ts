// The task kinds a worker thread can rebuild: `lora` and `contrastive` built in (loaded on first use), others registered
// by the module a TaskDescription names. A worker imports that module, then looks the kind up here.
import { InfuseError } from "../core/errors.js";
import type { ReplicaFactory, TaskDescription, TaskReplica } from "./task.js";

const kinds = new Map<string, () => Promise<ReplicaFactory>>([
  ["lora", async () => (await import("./lora-task.js")).createLoraReplica],
  ["contrastive", async () => (await import("./embed/task.js")).createContrastiveReplica],
]);

/** Makes `kind` rebuildable in workers; a task module calls this when imported. */
export function registerTaskKind(kind: string, factory: ReplicaFactory): void {
  kinds.set(kind, () => Promise.resolve(factory));
}

/** The replica of a described task (in a worker thread). */
export async function createReplica(d: TaskDescription, replica: number): Promise<TaskReplica<unknown>> {
  if (d.module) await import(d.module);
  const factory = kinds.get(d.kind);
  if (!factory) {
    throw new InfuseError("train.unknown_task", `no training task kind "${d.kind}" in the worker`, {
      kind: "internal",
      hint: `known kinds: ${[...kinds.keys()].join(", ")}; a task defined elsewhere names its module in describe()`,
    });
  }
  return (await factory())(d.init, replica);
}
