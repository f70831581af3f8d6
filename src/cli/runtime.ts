// What every command receives: parsed global flags, output, cancellation and config.
import type { Command } from "commander";
import { loadConfig, storeFromFlag, type ResolvedConfig } from "../core/config.js";
import { createOutput, type Output } from "./output.js";

export interface GlobalFlags {
  json?: boolean;
  quiet?: boolean;
  config?: string;
  /** `--store`: a postgres:// URL or a LanceDB folder, replacing the config's `store`. */
  store?: string;
}

export interface CommandRuntime {
  out: Output;
  /** Fires on Ctrl-C; long work passes it down and stops cleanly. */
  signal: AbortSignal;
  config(): Promise<ResolvedConfig>;
}

export function runtimeFor(command: Command, signal: AbortSignal): CommandRuntime {
  const flags = command.optsWithGlobals<GlobalFlags>();
  let config: Promise<ResolvedConfig> | undefined;
  return {
    out: createOutput({ json: flags.json === true, quiet: flags.quiet === true }),
    signal,
    config: () =>
      (config ??= loadConfig(flags.config === undefined ? {} : { file: flags.config }).then((c) =>
        flags.store === undefined ? c : { ...c, store: storeFromFlag(flags.store) },
      )),
  };
}

/** A command module adds its subcommand(s) to the program. */
export type RegisterCommand = (program: Command, run: CommandRunner) => void;

/** Wraps an action so it gets a runtime; errors propagate to main's single handler. */
export type CommandRunner = <A extends unknown[]>(
  action: (rt: CommandRuntime, ...args: A) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;
