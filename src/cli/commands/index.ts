// Every CLI command, in one list. A command file exports `register(program, run)`.
import type { RegisterCommand } from "../runtime.js";
import { registerDoctor } from "./doctor.js";

export const COMMANDS: RegisterCommand[] = [registerDoctor];
