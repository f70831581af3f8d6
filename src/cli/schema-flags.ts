// Commander options built from an option set's schema (the flags in its fields' `.meta()`), and flag
// text turned back into field values: numbers parsed, comma lists split; text that is not a number
// stays text so the schema rejects it with the library's own error.
import { Option } from "commander";
import type { z } from "zod";
import type { FlagField } from "../core/option-schema.js";

/** A field with a flag of its own, as commander sees it. */
export interface CliFlag extends FlagField {
  /** Commander's option spec (`-r, --rank <n>`). */
  spec: string;
  /** Commander's key for its value (`rank`). */
  key: string;
}

/** The fields that have help (positional arguments have none). */
export function cliFlags(fields: readonly FlagField[]): CliFlag[] {
  return fields.flatMap((f) => {
    if (!f.meta.help) return [];
    const spec = [f.meta.short, `${f.meta.flag}${f.meta.arg ? ` ${f.meta.arg}` : ""}`].filter(Boolean).join(", ");
    return [{ ...f, spec, key: new Option(spec).attributeName() }];
  });
}

/** New commander options for the flags (commander wants fresh ones for each command built). */
export function flagOptions(flags: readonly CliFlag[]): Option[] {
  return flags.flatMap(({ meta, spec }) => [
    new Option(spec, meta.help),
    ...(meta.off ? [new Option(`--no-${meta.flag.slice(2)}`, meta.off)] : []),
  ]);
}

function valueType(schema: z.ZodType): string {
  const def = schema.def as { type: string; innerType?: z.ZodType };
  return def.type === "optional" && def.innerType ? valueType(def.innerType) : def.type;
}

function fromFlag(schema: z.ZodType, raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  const type = valueType(schema);
  if (type === "number") {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
  }
  if (type === "array")
    return raw
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
  return raw;
}

/** The values of the flags given (only those), nested at their fields' paths. */
export function flagValues(parsed: Record<string, unknown>, flags: readonly CliFlag[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { path, schema, key } of flags) {
    if (parsed[key] === undefined) continue;
    let at = out;
    for (const k of path.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[path[path.length - 1]!] = fromFlag(schema, parsed[key]);
  }
  return out;
}
