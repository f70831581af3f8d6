// Every CLI command, in one list. A command file exports `register(program, run)`.
import type { RegisterCommand } from "../runtime.js";
import { registerDoctor } from "./doctor.js";
import { registerPull } from "./pull.js";
import { registerAsk } from "./ask.js";
import { registerChat } from "./chat.js";
import { registerCollections } from "./collections.js";
import { registerDemo } from "./demo.js";
import { registerIngest } from "./ingest.js";
import { registerEval } from "./eval.js";
import { registerGenerate } from "./generate.js";
import { registerInspect } from "./inspect.js";
import { registerTune } from "./tune.js";

export const COMMANDS: RegisterCommand[] = [
  registerDoctor,
  registerPull,
  registerIngest,
  registerAsk,
  registerChat,
  registerCollections,
  registerDemo,
  registerEval,
  registerGenerate,
  registerInspect,
  registerTune,
];
