// The `infuse` command line: global flags, command registration, and the one place
// where errors become messages and exit codes (only cli/ may exit the process).
import { Command, CommanderError } from "commander";
import { exitCodeFor, InfuseError, isInfuseError } from "../core/errors.js";
import { toWire } from "../core/wire.js";
import { VERSION } from "../core/version.js";
import { GlobalOptionsSchema } from "../core/config.js";
import { flagFields } from "../core/option-schema.js";
import { commandsFor } from "./commands/index.js";
import { safeText } from "./output.js";
import { cliFlags, flagOptions } from "./schema-flags.js";
import { runtimeFor, type CommandRunner, type CommandRuntime, type RegisterCommand } from "./runtime.js";

/** The program with `commands` registered (all of them for help: `commandsFor`). */
export function buildProgram(signal: AbortSignal, commands: RegisterCommand[]): Command {
  const program = new Command("infuse")
    .description(
      "Put your own knowledge into language models: RAG over your documents, LoRA/QLoRA\n" +
        "fine-tuning, embedding fine-tuning, and the evaluation that says which helped.",
    )
    .version(VERSION, "-V, --version")
    .option("--json", "print machine-readable JSON instead of text")
    .option("-q, --quiet", "print only results, no progress")
    .option("-c, --config <file>", "config file (default: ./infuse.config.json if present)")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const o of flagOptions(cliFlags(flagFields(GlobalOptionsSchema)))) program.addOption(o);
  program.configureHelp({ sortSubcommands: true });
  program.addHelpText(
    "after",
    "\nEnvironment:\n" +
      "  INFUSE_CACHE   downloaded models (default: the user cache folder)\n" +
      "  INFUSE_HOME    collections, logs and runs (default: the user data folder)\n" +
      "  INFUSE_CONFIG  config file to read instead of ./infuse.config.json\n" +
      "  HF_ENDPOINT    Hugging Face hub or mirror (default: https://huggingface.co)\n" +
      "  HF_TOKEN       token for gated or private hub repositories\n" +
      "  HF_HOME, HF_HUB_CACHE  a Hugging Face cache to reuse before downloading (default ~/.cache/huggingface)\n" +
      "  INFUSE_OFFLINE=1  never touch the network; use cached models only\n" +
      "\nRun `infuse <command> --help` for a command's options and examples.",
  );
  const run: CommandRunner =
    (action) =>
    async (...args) => {
      const command = args[args.length - 1] as Command;
      await (action as (rt: CommandRuntime, ...a: unknown[]) => Promise<void>)(
        runtimeFor(command, signal),
        ...args.slice(0, -1),
      );
    };
  for (const register of commands) register(program, run);
  program.commands.forEach((c) => c.exitOverride());
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write("\nstopping (Ctrl-C again to quit at once)…\n");
      controller.abort(new InfuseError("cancelled", "interrupted", { kind: "cancelled" }));
    } else process.exit(130);
  };
  process.on("SIGINT", onSigint);
  const json = argv.includes("--json");
  try {
    await buildProgram(controller.signal, await commandsFor(argv)).parseAsync(argv);
    return 0;
  } catch (e) {
    return reportError(e, json);
  } finally {
    process.off("SIGINT", onSigint);
  }
}

function reportError(e: unknown, json: boolean): number {
  if (e instanceof CommanderError) {
    // help and version print and "fail" with these codes; they are successes
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
    return 2;
  }
  if (isInfuseError(e)) {
    if (json) process.stdout.write(JSON.stringify(toWire(e.toJSON())) + "\n");
    else {
      // messages name files and quote what was read: made safe for the terminal
      process.stderr.write(`error: ${safeText(e.message)}\n`);
      if (e.hint) process.stderr.write(`  hint: ${safeText(e.hint)}\n`);
      if (process.env["INFUSE_DEBUG"] && e.cause) process.stderr.write(`  cause: ${safeText(String(e.cause))}\n`);
    }
    return exitCodeFor(e.kind);
  }
  // Not ours: a bug. Show the stack so it can be reported.
  process.stderr.write(`internal error: ${safeText(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
  process.stderr.write("  hint: this is a bug in infuse; please report it with the command you ran\n");
  return 1;
}
