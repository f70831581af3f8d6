// Errors as the server sends them: OpenAI's shape `{error: {message, type, param, code}}` on every
// route, with the status its kind calls for. A bad request names the field (`param`); an internal
// failure says only that it happened (its stack goes to the server's log, never to the client).
import { InfuseError, isInfuseError, type ErrorKind } from "../core/errors.js";
import { snakeCase } from "../core/wire.js";

export interface WireApiError {
  error: { message: string; type: string; param: string | null; code: string; hint?: string };
}

const STATUS: Record<ErrorKind, number> = {
  usage: 400,
  input: 400,
  not_found: 404,
  network: 502,
  io: 500,
  cancelled: 499,
  internal: 500,
};

/** A request error with its HTTP status and the field it is about. */
export function httpError(
  status: number,
  code: string,
  message: string,
  options: { param?: string; hint?: string } = {},
): InfuseError {
  const kind: ErrorKind = status === 404 ? "not_found" : status >= 500 ? "internal" : "usage";
  return new InfuseError(code, message, {
    kind,
    ...(options.hint !== undefined ? { hint: options.hint } : {}),
    details: { status, ...(options.param !== undefined ? { param: options.param } : {}) },
  });
}

function typeFor(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** The status and body for any thrown value; `log` receives what the client is not told. */
export function errorResponse(e: unknown, log: (message: string) => void): { status: number; body: WireApiError } {
  if (!isInfuseError(e) || (e.kind === "internal" && typeof e.details["status"] !== "number")) {
    log(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const code = isInfuseError(e) ? e.code : "internal";
    return {
      status: 500,
      body: { error: { message: "internal server error", type: "server_error", param: null, code } },
    };
  }
  const status = typeof e.details["status"] === "number" ? e.details["status"] : STATUS[e.kind];
  if (status >= 500) log(`${e.code}: ${e.message}`);
  const param =
    typeof e.details["param"] === "string"
      ? e.details["param"]
      : typeof e.details["option"] === "string" // a library option (camelCase), named as the wire spells it
        ? e.details["option"].split(".").map(snakeCase).join(".")
        : null;
  return {
    status,
    body: {
      error: {
        message: e.message,
        type: typeFor(status),
        param,
        code: e.code,
        ...(e.hint !== undefined ? { hint: e.hint } : {}),
      },
    },
  };
}
