// The training loop's options that `infuse tune` and `infuse embed tune` share (optimizer, schedule,
// batching, evaluation, checkpoints): one type, flag and error wording each. Each command words its
// own help where its default or unit differs.
import { z } from "zod";
import { optionTypes, type FlagMeta } from "../core/option-schema.js";

const { posInt, nonNegInt, pos, nonNeg, bool } = optionTypes;
const opt = <T extends z.ZodType>(t: T, meta: FlagMeta) => t.optional().meta(meta);

/** Help lines that differ between the commands (their defaults, what a batch or an epoch counts). */
export interface LoopHelp {
  lr: string;
  schedule: string;
  weightDecay: string;
  epochs: string;
  batchSize: string;
  seed: string;
  evalEvery: string;
  patience: string;
  overwrite: string;
}

/** The loop's fields, to spread into a command's option schema. */
export function loopOptionFields(help: LoopHelp) {
  return {
    lr: opt(pos(), { flag: "--lr", arg: "<lr>", help: help.lr }),
    schedule: opt(z.enum(["cosine", "linear", "constant"], { error: "cosine, linear or constant" }), {
      flag: "--schedule",
      arg: "<s>",
      help: help.schedule,
    }),
    warmupSteps: opt(nonNegInt(), { flag: "--warmup", arg: "<steps>", help: "warmup steps (0)" }),
    weightDecay: opt(nonNeg(), { flag: "--weight-decay", arg: "<w>", help: help.weightDecay }),
    epochs: opt(pos(), { flag: "--epochs", arg: "<n>", help: help.epochs }),
    maxSteps: opt(posInt(), { flag: "--max-steps", arg: "<n>", help: "stop after this many optimizer steps" }),
    batchSize: opt(posInt(), { flag: "--batch-size", short: "-b", arg: "<n>", help: help.batchSize }),
    gradAccum: opt(posInt(), { flag: "--grad-accum", arg: "<n>", help: "micro-batches per optimizer step (1)" }),
    clip: opt(nonNeg(), { flag: "--clip", arg: "<norm>", help: "max gradient norm, 0 = off (1)" }),
    seed: opt(nonNegInt(), { flag: "--seed", arg: "<n>", help: help.seed }),
    evalEvery: opt(nonNegInt(), { flag: "--eval-every", arg: "<n>", help: help.evalEvery }),
    patience: opt(nonNegInt(), { flag: "--patience", arg: "<n>", help: help.patience }),
    saveEvery: opt(nonNegInt(), {
      flag: "--save-every",
      arg: "<n>",
      help: "checkpoint every N steps (Ctrl-C always saves one)",
    }),
    logEvery: opt(posInt(), { flag: "--log-every", arg: "<n>", help: "a metrics.jsonl line every N steps (1)" }),
    resume: opt(bool(), { flag: "--resume", help: "continue from the newest checkpoint in --out" }),
    /** Start afresh in an `out` that holds a previous run, replacing its files (without it such a folder is refused). */
    overwrite: opt(bool(), { flag: "--overwrite", help: help.overwrite }),
  };
}
