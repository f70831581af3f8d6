// A training run's output folder, claimed for one run: a lock file held while the run writes (a second
// run into it fails at once), and a folder that holds a previous run is reused only when asked —
// `resume` continues its newest checkpoint (there must be one), `overwrite` clears the run's files
// first (other files stay). Leaves out locking on network file systems.
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { acquireLockFile, type HeldLock } from "../core/lock-file.js";
import { listCheckpoints } from "./checkpoint.js";

export const RUN_LOCK = "run.lock";
/** The records a run cut to --max-length, one JSON line each. */
export const TRUNCATED_FILE = "truncated.jsonl";

/** What a run writes in its folder: their presence marks a previous run; `overwrite` removes them. */
const RUN_FILES = [
  "checkpoints",
  "metrics.jsonl",
  "loss.svg",
  "tune-config.json",
  "adapter_config.json",
  "adapter_model.safetensors",
  "adapter.gguf",
  "chat_template.jinja",
  TRUNCATED_FILE,
  // embed tune's (train/embed/tune.ts)
  "embed-tune-config.json",
  "model",
  "before-after",
];

export interface RunFolderOptions {
  /** Continue the newest checkpoint (`train.no_checkpoint` when there is none). */
  resume: boolean;
  /** Clear a previous run's files and start afresh. */
  overwrite?: boolean | undefined;
}

/** A claimed run folder: held until `release`. */
export interface RunFolder {
  readonly out: string;
  readonly lock: HeldLock;
  release(): Promise<void>;
}

function busy(out: string, file: string, pid: number): InfuseError {
  const who = pid > 0 ? `process ${pid}` : "another process";
  return new InfuseError("train.out_busy", `${out}: ${who} is training into this folder`, {
    kind: "io",
    hint: `wait for that run to finish, or give another --out; if no infuse process is running, delete ${file}`,
    details: { out, ...(pid > 0 ? { pid } : {}) },
  });
}

/** Locks `out` (made if missing) and checks it against `resume` / `overwrite`; release it when the run ends. */
export async function claimRunFolder(out: string, o: RunFolderOptions): Promise<RunFolder> {
  if (o.resume && o.overwrite) {
    throw new InfuseError("train.bad_option", "resume and overwrite cannot both be set", {
      kind: "usage",
      hint: "--resume continues the run in --out; --overwrite starts it again",
    });
  }
  await mkdir(out, { recursive: true });
  const file = path.join(out, RUN_LOCK);
  const lock = await acquireLockFile(file, (pid) => busy(out, file, pid));
  try {
    const previous = RUN_FILES.filter((f) => existsSync(path.join(out, f)));
    if (o.resume) {
      if ((await listCheckpoints(out)).length === 0) {
        throw new InfuseError("train.no_checkpoint", `${out}: no checkpoint to resume`, {
          kind: "not_found",
          hint:
            previous.length > 0
              ? "the run there saved no checkpoint (--save-every N saves them; Ctrl-C always does): run with --overwrite to start it again"
              : "drop --resume to start a new run in this folder",
          details: { out },
        });
      }
    } else if (previous.length > 0) {
      if (!o.overwrite) {
        throw new InfuseError("train.out_exists", `${out} holds a previous run (${previous.join(", ")})`, {
          kind: "usage",
          hint: "--resume continues it, --overwrite starts it again (its files are replaced), or give another --out",
          details: { out, files: previous },
        });
      }
      for (const f of previous) await rm(path.join(out, f), { recursive: true, force: true });
    }
  } catch (e) {
    await lock.release();
    throw e;
  }
  return { out, lock, release: () => lock.release() };
}
