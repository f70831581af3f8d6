// Training checkpoints: a task's parameters, optimizer moments, the loop's position (step, epoch,
// micro-batch, early-stop counters) and the task's own state (e.g. its dropout RNG), so a resumed run
// continues bit for bit. Layout: <out>/checkpoints/step-NNNNNN/{state.safetensors, state.json}.
// Leaves out pruning old ones.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { openSafetensors, writeSafetensors, type SafetensorsTensorInput } from "../formats/safetensors.js";
import type { Optimizer, OptimizerState, Tensor } from "../tensor/index.js";

export interface LoopState {
  /** Optimizer steps taken. */
  step: number;
  epoch: number;
  /** Micro-batches of this epoch already consumed. */
  batch: number;
  /** Best value of the monitored eval metric so far. */
  bestEval: number | null;
  badEvals: number;
  tokensSeen: number;
}

/** What a checkpoint holds besides the tensors. */
export interface Checkpoint {
  loop: LoopState;
  /** The task's own state (TrainingTask.saveState). */
  task: unknown;
  /** Fingerprint of the task's settings, which must match for a resume. */
  fingerprint: string;
  /** Fingerprint of the loop's settings (optimizer, schedule, accumulation), which must match too. */
  loopFingerprint: string;
  /** The task's settings by name: a resume compares them one by one and names those that differ. */
  settings?: Settings;
  /** The loop's settings by name (optimizer, schedule, accumulation). */
  loopSettings?: Settings;
}

/** Settings by name (a flat object; values compared as JSON). */
export type Settings = Record<string, unknown>;

/** `name: checkpoint X, now Y` for every setting that differs (keys of either side). */
export function settingsDiff(then: Settings, now: Settings, label: (key: string) => string = (k) => k): string[] {
  const keys = [...new Set([...Object.keys(then), ...Object.keys(now)])];
  const show = (v: unknown): string => (v === undefined ? "unset" : JSON.stringify(v));
  return keys
    .filter((k) => JSON.stringify(then[k]) !== JSON.stringify(now[k]))
    .map((k) => `${label(k)}: checkpoint ${show(then[k])}, now ${show(now[k])}`);
}

interface StateFile extends LoopState {
  task?: unknown;
  /** Before tasks: the LoRA adapters' RNG state. */
  rng?: number[];
  optimizer: Omit<OptimizerState, "tensors">;
  fingerprint: string;
  loopFingerprint?: string;
  settings?: Settings;
  loopSettings?: Settings;
}

const dirName = (step: number): string => `step-${String(step).padStart(6, "0")}`;

export async function saveCheckpoint(
  out: string,
  params: Tensor[],
  optimizer: Optimizer,
  c: Checkpoint,
): Promise<string> {
  const { loop } = c;
  const root = path.join(out, "checkpoints");
  const dir = path.join(root, dirName(loop.step));
  const tmp = `${dir}.partial`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const opt = optimizer.saveState();
  const tensors: SafetensorsTensorInput[] = params.map((p, i) => ({
    name: `param.${i}`,
    shape: [...p.shape],
    dtype: "F32",
    data: p.data,
  }));
  for (const [name, data] of Object.entries(opt.tensors))
    tensors.push({ name: `opt.${name}`, shape: [data.length], dtype: "F32", data });
  await writeSafetensors(path.join(tmp, "state.safetensors"), tensors);
  const state: StateFile = {
    ...loop,
    task: c.task,
    optimizer: { kind: opt.kind, step: opt.step, meta: opt.meta },
    fingerprint: c.fingerprint,
    loopFingerprint: c.loopFingerprint,
    ...(c.settings ? { settings: c.settings } : {}),
    ...(c.loopSettings ? { loopSettings: c.loopSettings } : {}),
  };
  await writeFile(path.join(tmp, "state.json"), JSON.stringify(state, null, 2) + "\n");
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

/** The complete checkpoint folders under <out>/checkpoints, newest first. */
export async function listCheckpoints(out: string): Promise<string[]> {
  const root = path.join(out, "checkpoints");
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^step-\d+$/.test(n))
    .sort((a, b) => Number(b.slice(5)) - Number(a.slice(5)))
    .map((n) => path.join(root, n));
}

/** The newest complete checkpoint folder under <out>/checkpoints, or null. */
export async function latestCheckpoint(out: string): Promise<string | null> {
  return (await listCheckpoints(out))[0] ?? null;
}

/** What a resume must match: settings by name where the checkpoint has them, else the fingerprints. */
export type Want = Pick<Checkpoint, "fingerprint" | "loopFingerprint" | "settings" | "loopSettings"> & {
  /** A setting's name as the user writes it (`rank` → `rank (--rank)`). */
  label?: (key: string) => string;
};

function mismatch(dir: string, what: string, diff: string[] | null, hint: string, details: Settings): InfuseError {
  const named = diff ? `: ${diff.join("; ")}` : "";
  return new InfuseError("train.checkpoint_mismatch", `${dir}: written with other ${what}${named}`, {
    kind: "usage",
    hint,
    details: { ...details, ...(diff ? { differences: diff } : {}) },
  });
}

/** Compares settings by name (checkpoints since settings were saved) or by fingerprint (older ones). */
function checkSettings(dir: string, state: StateFile, want: Want): void {
  const taskHint =
    "resume with the same model, datasets, template, LoRA and batch settings, or start a new output folder";
  const loopHint =
    "resume with the same learning rate, schedule, warmup, weight decay, accumulation and clipping (--epochs and --max-steps may grow)";
  if (state.settings && want.settings) {
    const diff = settingsDiff(state.settings, want.settings, want.label);
    if (diff.length > 0) throw mismatch(dir, "model, data or LoRA settings", diff, taskHint, {});
  } else if (state.fingerprint !== want.fingerprint) {
    const details = { checkpoint: state.fingerprint, now: want.fingerprint };
    throw mismatch(dir, "model, data or LoRA settings", null, taskHint, details);
  }
  if (state.loopSettings && want.loopSettings) {
    const diff = settingsDiff(state.loopSettings, want.loopSettings, want.label);
    if (diff.length > 0) throw mismatch(dir, "optimizer or schedule settings", diff, loopHint, {});
  } else if (state.loopFingerprint !== undefined && state.loopFingerprint !== want.loopFingerprint) {
    const details = { checkpoint: state.loopFingerprint, now: want.loopFingerprint };
    throw mismatch(dir, "optimizer or schedule settings", null, loopHint, details);
  }
}

/** Restores parameters and optimizer in place after checking both fingerprints; returns the rest. */
export async function loadCheckpoint(
  dir: string,
  params: Tensor[],
  optimizer: Optimizer,
  want: Want,
): Promise<Checkpoint> {
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
  const counts = [state.step, state.epoch, state.batch, state.badEvals, state.tokensSeen];
  const bestOk = state.bestEval === null || Number.isFinite(state.bestEval);
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0) || !bestOk || typeof state.optimizer !== "object") {
    throw new InfuseError("train.bad_checkpoint", `${stateFile}: the loop state is incomplete or damaged`, {
      kind: "input",
      hint: "resume from an earlier checkpoint (delete this one), or start again with --overwrite",
    });
  }
  checkSettings(dir, state, want);
  const st = await openSafetensors(path.join(dir, "state.safetensors"));
  try {
    for (let i = 0; i < params.length; i++) {
      const data = await st.readTensorF32(`param.${i}`);
      if (data.length !== params[i]!.data.length) {
        throw new InfuseError(
          "train.bad_checkpoint",
          `${st.path}: param.${i} has ${data.length} values, not ${params[i]!.data.length}`,
          {
            kind: "input",
            hint: "resume with the settings the checkpoint was written with, or start again with --overwrite",
          },
        );
      }
      params[i]!.data.set(data);
    }
    const tensors: Record<string, Float32Array> = {};
    for (const t of st.tensors)
      if (t.name.startsWith("opt.")) tensors[t.name.slice(4)] = await st.readTensorF32(t.name);
    optimizer.loadState({ ...state.optimizer, tensors });
  } finally {
    st.close();
  }
  const { step, epoch, batch, bestEval, badEvals, tokensSeen } = state;
  return {
    loop: { step, epoch, batch, bestEval, badEvals, tokensSeen },
    task: state.task ?? { rng: state.rng },
    fingerprint: state.fingerprint,
    loopFingerprint: state.loopFingerprint ?? want.loopFingerprint,
    ...(state.loopSettings ? { loopSettings: state.loopSettings } : {}),
  };
}
