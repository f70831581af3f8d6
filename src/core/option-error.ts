// An option set's zod schema complaint as one InfuseError (kind usage) naming the option, its value
// and its CLI flag, so the library, the flags and the config file all report a bad value alike.
import type { z } from "zod";
import { InfuseError } from "./errors.js";

export interface OptionErrorSpec {
  /** The error code, e.g. `train.bad_option`. */
  code: string;
  /** What an unknown key is not, e.g. "a tune option". */
  noun: string;
  /** The flag that sets the option at this path (`--chunk-size`), or a positional name (MODEL). */
  flagOf(path: string[]): string | undefined;
}

function valueAt(input: unknown, at: PropertyKey[]): unknown {
  let v = input;
  for (const k of at) v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** The schema's first complaint, naming the option and (for a `--flag`) the flag in the hint. */
export function optionError(error: z.ZodError, input: unknown, spec: OptionErrorSpec): InfuseError {
  const issue = error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const key = [...issue.path.map(String), issue.keys[0]].join(".");
    return new InfuseError(spec.code, `${key}: not ${spec.noun}`, {
      kind: "usage",
      hint: `remove ${key} or fix its spelling`,
      details: { option: key },
    });
  }
  const path = issue.path.map(String);
  const option = path.join(".");
  const flag = spec.flagOf(path);
  const value = valueAt(input, issue.path);
  const where = flag?.startsWith("-") ? `${option} (${flag})` : option;
  return new InfuseError(spec.code, `${option} = ${JSON.stringify(value)}: ${issue.message}`, {
    kind: "usage",
    hint: `set ${where} to ${issue.message}`,
    details: { option, ...(flag ? { flag } : {}) },
  });
}
