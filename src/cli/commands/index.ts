// Every CLI command, by name, each loaded on demand: a command file exports `register(program, run)`.
// `infuse tune …` imports only tune's module, not the RAG stack (its loaders, HTTP client and their
// code were ~15 MB of heap that every garbage collection of a training step walked: the CLI trained
// ~17% slower than the library's tune() on stories15M until commands loaded lazily).
import type { RegisterCommand } from "../runtime.js";

export const COMMANDS: Record<string, () => Promise<RegisterCommand>> = {
  doctor: async () => (await import("./doctor.js")).registerDoctor,
  pull: async () => (await import("./pull.js")).registerPull,
  ingest: async () => (await import("./ingest.js")).registerIngest,
  ask: async () => (await import("./ask.js")).registerAsk,
  chat: async () => (await import("./chat.js")).registerChat,
  collections: async () => (await import("./collections.js")).registerCollections,
  demo: async () => (await import("./demo.js")).registerDemo,
  eval: async () => (await import("./eval.js")).registerEval,
  export: async () => (await import("./export.js")).registerExport,
  generate: async () => (await import("./generate.js")).registerGenerate,
  inspect: async () => (await import("./inspect.js")).registerInspect,
  tune: async () => (await import("./tune.js")).registerTune,
  crawl: async () => (await import("./crawl.js")).registerCrawl,
  serve: async () => (await import("./serve.js")).registerServe,
  worker: async () => (await import("./worker.js")).registerWorker,
  // one group, two modules: embed queries|mine (embed.ts) and embed tune (embed-tune.ts)
  embed: async () => {
    const [data, tune] = await Promise.all([import("./embed.js"), import("./embed-tune.js")]);
    return (program, run) => {
      data.registerEmbed(program, run);
      tune.registerEmbedTune(program, run);
    };
  },
};

/**
 * The commands to register for `argv`: the named one alone when the first word after the global flags
 * (--json, -q, -c FILE) names a command, else all (help, no command, an unknown name: commander
 * reports it).
 */
export async function commandsFor(argv: readonly string[]): Promise<RegisterCommand[]> {
  let name: string | undefined;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-c" || a === "--config")
      i++; // its value
    else if (!a.startsWith("-")) {
      name = a;
      break;
    }
  }
  const loaders = name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
  return Promise.all(loaders.map((load) => load()));
}
