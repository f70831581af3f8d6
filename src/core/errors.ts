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

/** Errno names of a disk or path that refuses a write, and the codes Rust's io::Error prints (`os error N`, Linux). */
const DISK_ERRNO: Record<string, { code: string; why: string; fix: string }> = {
  ENOSPC: { code: "io.disk_full", why: "the disk is full", fix: "free some space on that disk" },
  EDQUOT: { code: "io.disk_full", why: "the disk quota is used up", fix: "free some space or raise the quota" },
  EROFS: { code: "io.read_only", why: "the file system is read-only", fix: "remount it read-write" },
  EACCES: { code: "io.permission_denied", why: "permission denied", fix: "give this user write access to it" },
  EPERM: {
    code: "io.permission_denied",
    why: "the operation is not permitted (an immutable or protected file?)",
    fix: "give this user write access to it (or `chattr -i` it)",
  },
  ENOTDIR: { code: "io.not_a_folder", why: "a part of the path is a file, not a folder", fix: "move that file away" },
  EISDIR: { code: "io.is_a_folder", why: "a folder stands where a file must go", fix: "move that folder away" },
};
const OS_ERROR: Record<number, string> = { 1: "EPERM", 13: "EACCES", 28: "ENOSPC", 30: "EROFS", 122: "EDQUOT" };
const OS_MESSAGE: [RegExp, string][] = [
  [/no space left on device/i, "ENOSPC"],
  [/disk quota exceeded/i, "EDQUOT"],
  [/read-only file system/i, "EROFS"],
  [/permission denied/i, "EACCES"],
  [/operation not permitted/i, "EPERM"],
];

/** The errno name of a disk refusal in a Node fs error or a native (Rust) error's message, else undefined. */
export function diskErrno(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && code in DISK_ERRNO) return code;
  const message = e instanceof Error ? e.message : typeof e === "string" ? e : "";
  const os = /os error (\d+)/.exec(message);
  if (os) return OS_ERROR[Number(os[1])];
  return OS_MESSAGE.find(([re]) => re.test(message))?.[1];
}

/**
 * `e` as an `io` InfuseError (`io.disk_full`, `io.read_only`, `io.permission_denied`) naming
 * `target` and the fix, when the disk refused a write (ENOSPC, EDQUOT, EROFS, EACCES, EPERM, from
 * Node's fs or as `os error N` from a native library); `e` unchanged otherwise. `doing` says what
 * was being written ("write the manifest of collection \"docs\""); `note` adds to the hint.
 */
export function diskError(e: unknown, target: string, doing: string, note?: string): unknown {
  if (isInfuseError(e)) return e;
  const errno = diskErrno(e);
  if (!errno) return e;
  const { code, why, fix } = DISK_ERRNO[errno]!;
  return new InfuseError(code, `cannot ${doing}: ${why} (${errno}) at ${target}`, {
    kind: "io",
    hint: `${fix}, then run it again${note ? `; ${note}` : ""}`,
    cause: e,
    details: { path: target, errno },
  });
}
