// Worker threads for infuse's synchronous engine work: a module started as a Worker (compiled .js
// directly; TypeScript sources under tsx or vitest through tsx's ESM hooks), and errors carried
// across the thread boundary with their InfuseError code, kind, hint and details kept.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";
import { InfuseError, isInfuseError, type ErrorKind } from "./errors.js";

/**
 * Starts the module `relative` (a path without extension, relative to `callerUrl`, the caller's
 * import.meta.url) as a worker thread: `.js` beside compiled code, `.ts` beside TypeScript sources.
 */
export function startModuleWorker(callerUrl: string, relative: string, options: WorkerOptions = {}): Worker {
  const ts = callerUrl.endsWith(".ts");
  const entry = new URL(`${relative}.${ts ? "ts" : "js"}`, callerUrl);
  if (!ts) return new Worker(entry, options);
  const tsxApi = pathToFileURL(createRequire(callerUrl).resolve("tsx/esm/api")).href.replace(/\.cjs$/, ".mjs");
  const code =
    `import(${JSON.stringify(tsxApi)})` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { ...options, eval: true });
}

/** An error as it crosses a thread boundary (structured clone keeps no class or own fields). */
export interface WireError {
  message: string;
  code?: string;
  kind?: ErrorKind;
  hint?: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export function errorToWire(e: unknown): WireError {
  if (isInfuseError(e)) {
    return {
      message: e.message,
      code: e.code,
      kind: e.kind,
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
      ...(Object.keys(e.details).length > 0 ? { details: safeDetails(e.details) } : {}),
      ...(e.stack !== undefined ? { stack: e.stack } : {}),
    };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { message: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}) };
}

/** How a thread turns its workers' errors into its own. */
export interface FromWireOptions {
  /** Put before the message of an error that had no InfuseError code (e.g. "training worker 1: "). */
  prefix?: string;
  /** The hint when the worker's error had none. */
  hint?: string;
  /** Added to the error's details (e.g. which worker failed). */
  details?: Record<string, unknown>;
}

/**
 * The InfuseError a WireError stands for: the worker's code, kind, hint and details when it had an
 * InfuseError; otherwise `fallbackCode` (kind internal) with `options.prefix` before the message.
 */
export function errorFromWire(w: WireError, fallbackCode: string, options: FromWireOptions = {}): InfuseError {
  const hint = w.hint ?? options.hint;
  const details = { ...w.details, ...options.details };
  const error = new InfuseError(w.code ?? fallbackCode, w.code ? w.message : `${options.prefix ?? ""}${w.message}`, {
    kind: w.kind ?? "internal",
    ...(hint !== undefined ? { hint } : {}),
    ...(Object.keys(details).length > 0 ? { details } : {}),
  });
  if (w.stack) error.stack = `${error.stack ?? ""}\n    --- in the worker thread ---\n${w.stack}`;
  return error;
}

/** Details that survive the thread boundary: all of them when they clone, else their JSON (functions dropped). */
function safeDetails(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(details);
  } catch {
    try {
      return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
}
