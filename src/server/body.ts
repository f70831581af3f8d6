// Request bodies: JSON read and checked by a zod schema, the first complaint naming its field as a
// 400 (never a stack trace). `wire` bodies (the /api/ routes) are snake_case and read through fromWire.
import type { Context } from "hono";
import type { z } from "zod";
import { fromWire } from "../core/wire.js";
import { httpError } from "./errors.js";

/** The zod issue's path as the client wrote it (`messages[0].content`). */
export function fieldPath(path: readonly PropertyKey[], snake = false): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else {
      const name = snake ? String(p).replace(/[A-Z]/g, (c) => "_" + c.toLowerCase()) : String(p);
      out += out === "" ? name : `.${name}`;
    }
  }
  return out;
}

/** The schema's first complaint as a 400 naming the field. */
export function schemaError(error: z.ZodError, snake = false): Error {
  const issue = error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const key = fieldPath([...issue.path, issue.keys[0]!], snake);
    return httpError(400, "invalid_request", `${key}: unknown field`, { param: key, hint: `remove ${key}` });
  }
  const param = fieldPath(issue.path, snake) || "(body)";
  return httpError(400, "invalid_request", `${param}: ${issue.message}`, { param });
}

export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw httpError(400, "invalid_json", "the request body is not valid JSON", {
      hint: "send a JSON object with content-type application/json",
    });
  }
}

/** A JSON body checked by `schema` as is (OpenAI's routes: their own snake_case fields). */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const result = schema.safeParse(await readJson(c));
  if (!result.success) throw schemaError(result.error);
  return result.data;
}

/** A snake_case wire body read into library (camelCase) values, then checked by `schema`. */
export async function wireBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const result = schema.safeParse(fromWire(await readJson(c)));
  if (!result.success) throw schemaError(result.error, true);
  return result.data;
}
