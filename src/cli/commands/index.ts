// Every CLI command, in one list. A command file exports `register(program, run)`.
import type { RegisterCommand } from "../runtime.js";
import { registerDoctor } from "./doctor.js";
import { registerPull } from "./pull.js";

export const COMMANDS: RegisterCommand[] = [registerDoctor, registerPull];
