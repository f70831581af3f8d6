// Training checkpoints: LoRA parameters, optimizer moments and the loop's position (step, epoch,
// micro-batch, dropout RNG, early-stop counters) so a resumed run continues bit for bit.
// Layout: <out>/checkpoints/step-NNNNNN/{state.safetensors, state.json}. Leaves out pruning old ones.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { openSafetensors, writeSafetensors, type SafetensorsTensorInput } from "../formats/safetensors.js";
import type { LoraSet } from "../models/lora/attach.js";
import type { Optimizer, OptimizerState } from "../tensor/index.js";

export interface LoopState {
  /** Optimizer steps taken. */
  step: number;
  epoch: number;
  /** Micro-batches of this epoch already consumed. */
  batch: number;
  rng: number[];
  bestEval: number | null;
  badEvals: number;
  tokensSeen: number;
}

interface StateFile extends LoopState {
  optimizer: Omit<OptimizerState, "tensors">;
  /** Fingerprint of the settings that must match for a resume. */
  fingerprint: string;
}

const dirName = (step: number): string => `step-${String(step).padStart(6, "0")}`;

export async function saveCheckpoint(
  out: string,
  set: LoraSet,
  optimizer: Optimizer,
  loop: LoopState,
  fingerprint: string,
): Promise<string> {
  const root = path.join(out, "checkpoints");
  const dir = path.join(root, dirName(loop.step));
  const tmp = `${dir}.partial`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const opt = optimizer.saveState();
  const tensors: SafetensorsTensorInput[] = set
    .params()
    .map((p, i) => ({ name: `param.${i}`, shape: [...p.shape], dtype: "F32", data: p.data }));
  for (const [name, data] of Object.entries(opt.tensors))
    tensors.push({ name: `opt.${name}`, shape: [data.length], dtype: "F32", data });
  await writeSafetensors(path.join(tmp, "state.safetensors"), tensors);
  const state: StateFile = { ...loop, optimizer: { kind: opt.kind, step: opt.step, meta: opt.meta }, fingerprint };
  await writeFile(path.join(tmp, "state.json"), JSON.stringify(state, null, 2) + "\n");
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

/** The newest complete checkpoint folder under <out>/checkpoints, or null. */
export async function latestCheckpoint(out: string): Promise<string | null> {
  const root = path.join(out, "checkpoints");
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return null;
  }
  const done = names.filter((n) => /^step-\d+$/.test(n)).sort();
  return done.length ? path.join(root, done[done.length - 1]!) : null;
}

/** Restores parameters and optimizer in place; returns the loop position. */
export async function loadCheckpoint(
  dir: string,
  set: LoraSet,
  optimizer: Optimizer,
  fingerprint: string,
): Promise<LoopState> {
  const stateFile = path.join(dir, "state.json");
  let state: StateFile;
  try {
    state = JSON.parse(await readFile(stateFile, "utf8")) as StateFile;
  } catch (e) {
    throw new InfuseError("train.bad_checkpoint", `${stateFile}: cannot read (${(e as Error).message})`, {
      kind: "input",
      cause: e,
    });
  }
  if (state.fingerprint !== fingerprint) {
    throw new InfuseError("train.checkpoint_mismatch", `${dir}: written with other model, data or LoRA settings`, {
      kind: "usage",
      hint: "resume with the same model, datasets, template, LoRA and batch settings, or start a new output folder",
      details: { checkpoint: state.fingerprint, now: fingerprint },
    });
  }
  const st = await openSafetensors(path.join(dir, "state.safetensors"));
  try {
    const params = set.params();
    for (let i = 0; i < params.length; i++) params[i]!.data.set(await st.readTensorF32(`param.${i}`));
    const tensors: Record<string, Float32Array> = {};
    for (const t of st.tensors)
      if (t.name.startsWith("opt.")) tensors[t.name.slice(4)] = await st.readTensorF32(t.name);
    optimizer.loadState({ ...state.optimizer, tensors });
  } finally {
    st.close();
  }
  set.rng.setState(state.rng);
  const { step, epoch, batch, rng, bestEval, badEvals, tokensSeen } = state;
  return { step, epoch, batch, rng, bestEval, badEvals, tokensSeen };
}
