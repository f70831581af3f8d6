// The one error family of infuse: every failure a user can cause or fix is an InfuseError
// with a stable `code`, a `hint` that says the fix, and the original `cause` kept.

/** What kind of failure this is; the CLI maps it to an exit code. */
export type ErrorKind =
  | "usage" // bad flags, bad config file, bad argument
  | "input" // a data or model file that is malformed or of the wrong shape
  | "not_found" // a file, model or collection that does not exist
  | "network" // an HTTP endpoint that failed or cannot be reached
  | "io" // the disk refused (read-only, full, permissions)
  | "cancelled" // the user stopped the work (Ctrl-C, AbortSignal)
  | "internal"; // a bug in infuse or a dependency

export interface InfuseErrorOptions {
  kind?: ErrorKind;
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class InfuseError extends Error {
  override readonly name = "InfuseError";
  /** Stable, dotted code such as `config.unknown_key` or `hub.http_404`. */
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: InfuseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.kind = options.kind ?? "internal";
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      error: this.code,
      kind: this.kind,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(Object.keys(this.details).length === 0 ? {} : { details: this.details }),
    };
  }
}

export function isInfuseError(e: unknown): e is InfuseError {
  return e instanceof InfuseError;
}

/** The error thrown when an AbortSignal fires; long work checks it between units of work. */
export function cancelledError(what: string, cause?: unknown): InfuseError {
  return new InfuseError("cancelled", `${what} was cancelled`, { kind: "cancelled", cause });
}

/** Throws a `cancelled` InfuseError if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(what, signal.reason);
}

const EXIT_CODES: Record<ErrorKind, number> = {
  usage: 2,
  input: 3,
  not_found: 4,
  network: 5,
  io: 6,
  internal: 1,
  cancelled: 130,
};

export function exitCodeFor(kind: ErrorKind): number {
  return EXIT_CODES[kind];
}
