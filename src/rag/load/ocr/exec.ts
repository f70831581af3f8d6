// Runs an OCR tool (tesseract, pdftoppm) as a child process: execFile, no shell, input on stdin,
// stdout as bytes, a timeout, and an AbortSignal that kills it. A binary that is not there is told
// apart from one that fails, so the caller can list the file with an install hint instead.
import { execFile } from "node:child_process";
import { cancelledError, InfuseError } from "../../../core/errors.js";

export interface ToolRun {
  /** Bytes written to the tool's stdin (then closed); none: stdin closed at once. */
  input?: Uint8Array;
  signal?: AbortSignal;
  timeoutMs: number;
  /** Largest stdout accepted (bytes). */
  maxBytes?: number;
  /** What the run is, for messages ("OCR of scan.pdf p.3"). */
  what: string;
}

/** Thrown when the binary does not exist (ENOENT / EACCES): the tool is not installed there. */
export class ToolMissing extends Error {
  constructor(readonly binary: string) {
    super(`${binary} not found`);
  }
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** The tool's stdout; rejects with ToolMissing, `cancelled`, `rag.ocr_timeout` or `rag.ocr_failed`. */
export function runTool(binary: string, args: string[], run: ToolRun): Promise<Buffer> {
  if (run.signal?.aborted) return Promise.reject(cancelledError(run.what, run.signal.reason));
  return new Promise((resolve, reject) => {
    const child = execFile(
      binary,
      args,
      {
        encoding: "buffer",
        maxBuffer: run.maxBytes ?? DEFAULT_MAX_BYTES,
        timeout: run.timeoutMs,
        killSignal: "SIGKILL",
        windowsHide: true,
        // one thread per tesseract: a page is small, and OpenMP threads on a busy machine slow it down
        env: { OMP_THREAD_LIMIT: "1", ...process.env },
        ...(run.signal ? { signal: run.signal } : {}),
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const e = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        if (e.code === "ENOENT" || e.code === "EACCES") return reject(new ToolMissing(binary));
        if (e.name === "AbortError" || run.signal?.aborted) return reject(cancelledError(run.what, run.signal?.reason));
        if (e.killed && e.signal)
          return reject(
            new InfuseError("rag.ocr_timeout", `${run.what}: ${binary} ran longer than ${run.timeoutMs / 1000} s`, {
              kind: "input",
              hint: "raise ingest.ocr.timeoutSeconds in infuse.config.json, or lower --ocr-dpi",
              cause: error,
            }),
          );
        const said = stderr.toString("utf8").trim().split("\n").slice(-3).join(" ").slice(0, 400);
        reject(
          new InfuseError("rag.ocr_failed", `${run.what}: ${binary} failed (${said || e.message})`, {
            kind: "input",
            cause: error,
          }),
        );
      },
    );
    // EPIPE when the tool exits before reading all of stdin is reported by the exit callback
    child.stdin?.on("error", () => {});
    child.stdin?.end(run.input ? Buffer.from(run.input.buffer, run.input.byteOffset, run.input.byteLength) : undefined);
  });
}
