// What option sets (tune's, ingest's) share: each field's CLI flag lives in the zod schema's
// `.meta()`, `flagFields` finds them (nested groups included), and `optionError` turns the schema's
// complaint into one usage error naming the option, its value and its flag, so the library, the
// flags and the config file all report a bad value alike.
import { z } from "zod";
import { InfuseError } from "./errors.js";

/**
 * The value types option schemas share, each with its error wording ("a positive integer"), so every
 * option set words a bad value alike.
 */
export const optionTypes = {
  posInt: () => z.int({ error: "a positive integer" }).min(1, { error: "a positive integer" }),
  nonNegInt: () => z.int({ error: "an integer ≥ 0" }).min(0, { error: "an integer ≥ 0" }),
  pos: () => z.number({ error: "a positive number" }).gt(0, { error: "a positive number" }),
  nonNeg: () => z.number({ error: "a number ≥ 0" }).min(0, { error: "a number ≥ 0" }),
  unit: () =>
    z
      .number({ error: "a number in [0, 1)" })
      .min(0, { error: "a number in [0, 1)" })
      .lt(1, { error: "a number in [0, 1)" }),
  bool: () => z.boolean({ error: "true or false" }),
  text: () => z.string({ error: "a string" }),
};

/** A field's flag, in its schema's `.meta()`. */
export type FlagMeta = {
  /** `--max-length`, or a positional argument's name (`MODEL`). */
  flag: string;
  /** The value's placeholder (`<n>`, `<glob...>` for a list); absent for a boolean switch. */
  arg?: string;
  short?: string;
  /** Without help, the field has no flag of its own. */
  help?: string;
  /** Help of the `--no-…` form of a switch. */
  off?: string;
};

/** A field that carries a flag: its path in the options (`["splitter", "chunkSize"]`), its schema, its flag. */
export interface FlagField {
  path: string[];
  schema: z.ZodType;
  meta: FlagMeta;
}

function unwrap(schema: z.ZodType): z.ZodType {
  const def = schema.def as { type: string; innerType?: z.ZodType };
  return def.type === "optional" && def.innerType ? unwrap(def.innerType) : schema;
}

/** Every field with a flag, groups (nested objects without a flag of their own) walked, in schema order. */
export function flagFields(schema: z.ZodType, at: string[] = []): FlagField[] {
  const meta = schema.meta() as FlagMeta | undefined;
  if (meta?.flag) return [{ path: at, schema, meta }];
  const inner = unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([k, s]) => flagFields(s, [...at, k]));
}

/** The flag of a top-level field of an options object (`maxLength` → `--max-length`), or a positional name. */
export function fieldFlag(schema: z.ZodObject, field: string): string | undefined {
  return ((schema.shape as Record<string, z.ZodType>)[field]?.meta() as FlagMeta | undefined)?.flag;
}

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
