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

/** The InfuseError a WireError stands for; plain errors become `fallbackCode` (kind internal). */
export function errorFromWire(w: WireError, fallbackCode: string, prefix = ""): InfuseError {
  const error = new InfuseError(w.code ?? fallbackCode, `${prefix}${w.message}`, {
    kind: w.kind ?? "internal",
    ...(w.hint !== undefined ? { hint: w.hint } : {}),
    ...(w.details ? { details: w.details } : {}),
  });
  if (w.stack) error.stack = `${error.stack ?? ""}\n    --- in the worker thread ---\n${w.stack}`;
  return error;
}

/** Details that survive structured clone (functions and class instances dropped). */
function safeDetails(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
