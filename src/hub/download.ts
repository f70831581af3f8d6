// Resumable HTTP download of one file into a `.part` file, verified by size and checksum,
// then renamed into place. A dropped connection resumes with a Range request; a body longer
// than announced stops at the announced size and fails; a silent server times out.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { diskError, InfuseError, throwIfAborted } from "../core/errors.js";
import { throttledProgress, type TaskOptions } from "../core/progress.js";
import { PLAIN_HTTP, send, type Exchange, type HubHttp } from "./http.js";

/** What the server says the file should be; from ETag / X-Linked-Etag and sizes. */
export interface ExpectedFile {
  size: number | undefined;
  /** sha256 (64 hex, LFS files) or git blob sha1 (40 hex, small files), lowercase. */
  checksum: string | undefined;
}

export interface DownloadOptions extends TaskOptions {
  /** Headers per URL (the token only for the hub's origin) and the idle timeout; default none and 60 s. */
  http?: HubHttp;
  /** How many times a dropped connection is resumed before giving up. */
  retries?: number;
  /** Label for progress events. */
  task?: string;
  /** The most bytes the file may have (`limits.maxDownloadBytes`): a body of unknown size stops there. */
  maxBytes?: number;
}

/** A refused write into the model cache as an `io.*` error naming the path (core's diskError). */
export function cacheWriteError(e: unknown, target: string): unknown {
  return diskError(
    e,
    target,
    "write to the model cache",
    "or point INFUSE_CACHE (or cacheDir in infuse.config.json) at a folder with room",
  );
}

/** Parses ETag-style headers into a checksum we can verify. */
export function checksumFromEtag(etag: string | null | undefined): string | undefined {
  if (!etag) return undefined;
  const v = etag.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return /^[0-9a-f]{64}$/.test(v) || /^[0-9a-f]{40}$/.test(v) ? v : undefined;
}

/** sha256 of the file, or the git blob sha1 when `kind` is 40 hex long. */
export async function fileChecksum(file: string, like: string): Promise<string> {
  const size = (await stat(file)).size;
  const hash = like.length === 40 ? createHash("sha1").update(`blob ${size}\0`) : createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Downloads `url` to `dest`. Partial bytes live in `partPath` until the whole file is there
 * and verified; a later call (or a retry after a dropped connection) resumes from them.
 */
export async function downloadFile(
  url: string,
  dest: string,
  partPath: string,
  expected: ExpectedFile,
  options: DownloadOptions = {},
): Promise<void> {
  const task = options.task ?? path.basename(dest);
  if (options.maxBytes !== undefined && expected.size !== undefined && expected.size > options.maxBytes)
    throw tooLarge(url, options.maxBytes, `the hub announces ${expected.size} bytes`);
  const report = throttledProgress(options.onProgress);
  const retries = options.retries ?? 5;
  try {
    await mkdir(path.dirname(partPath), { recursive: true });
    await mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    throw cacheWriteError(e, path.dirname(partPath));
  }
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal, `download of ${url}`);
    try {
      await fetchInto(url, partPath, expected, options, (done, total) =>
        report({ task, done, ...(total === undefined ? {} : { total }), unit: "bytes" }),
      );
      break;
    } catch (e) {
      if (!isDroppedConnection(e) || attempt >= retries || options.signal?.aborted) {
        if (options.signal?.aborted) throwIfAborted(options.signal, `download of ${url}`);
        throw isDroppedConnection(e) ? droppedError(e as Error, url, partPath) : e;
      }
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  await verify(partPath, expected, url);
  try {
    await rename(partPath, dest);
  } catch (e) {
    throw cacheWriteError(e, dest);
  }
}

class DroppedConnection extends Error {}

function isDroppedConnection(e: unknown): boolean {
  return e instanceof DroppedConnection;
}

function droppedError(e: Error, url: string, partPath: string): InfuseError {
  return new InfuseError("hub.connection_dropped", `download of ${url} failed: ${e.message}`, {
    kind: "network",
    hint: `run the command again to resume from the bytes kept in ${partPath}; check HF_ENDPOINT if it keeps failing`,
    cause: e,
    details: { url, partial: partPath },
  });
}

async function fetchInto(
  url: string,
  partPath: string,
  expected: ExpectedFile,
  options: DownloadOptions,
  progress: (done: number, total: number | undefined) => void,
): Promise<void> {
  let offset = await stat(partPath).then(
    (s) => s.size,
    () => 0,
  );
  if (expected.size !== undefined && offset > expected.size) {
    await rm(partPath, { force: true });
    offset = 0;
  }
  if (expected.size !== undefined && offset === expected.size) return;
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  let exchange: Exchange;
  try {
    exchange = await send(url, { headers }, options.http ?? PLAIN_HTTP, options.signal);
  } catch (e) {
    if (options.signal?.aborted || e instanceof InfuseError) throw e;
    throw new DroppedConnection(`request failed: ${(e as Error).message}`, { cause: e });
  }
  try {
    await receive(exchange, partPath, offset, expected, options, progress);
  } finally {
    await exchange.close();
  }
}

/** Writes the body into the part file; never past `expected.size`. */
async function receive(
  exchange: Exchange,
  partPath: string,
  offset: number,
  expected: ExpectedFile,
  options: DownloadOptions,
  progress: (done: number, total: number | undefined) => void,
): Promise<void> {
  const { response, url } = exchange;
  if (response.status === 416 && offset > 0) {
    // our part is longer than the file: start over
    await rm(partPath, { force: true });
    throw new DroppedConnection("range not satisfiable");
  }
  if (!response.ok) throw httpError(response, url);
  if (offset > 0 && response.status !== 206) offset = 0; // the server ignored the Range header
  const length = Number(response.headers.get("content-length") ?? NaN);
  const total = expected.size ?? (Number.isFinite(length) ? offset + length : undefined);
  if (expected.size !== undefined && Number.isFinite(length) && offset + length > expected.size) {
    await rm(partPath, { force: true });
    throw sizeMismatch(url, expected.size, `its body is ${offset + length} bytes`);
  }
  let handle;
  try {
    handle = await open(partPath, offset > 0 ? "a" : "w");
  } catch (e) {
    throw cacheWriteError(e, partPath);
  }
  let done = offset;
  let overlong = false;
  try {
    for (;;) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = await exchange.read();
      } catch (e) {
        if (options.signal?.aborted || e instanceof InfuseError) throw e;
        throw new DroppedConnection(`connection dropped after ${done} bytes`, { cause: e });
      }
      if (!chunk) break;
      if (expected.size !== undefined && done + chunk.byteLength > expected.size) {
        overlong = true;
        break;
      }
      if (options.maxBytes !== undefined && done + chunk.byteLength > options.maxBytes) {
        await handle.close().catch(() => {});
        await rm(partPath, { force: true });
        throw tooLarge(url, options.maxBytes, "its body runs past that");
      }
      try {
        await handle.write(chunk);
      } catch (e) {
        throw cacheWriteError(e, partPath);
      }
      done += chunk.byteLength;
      progress(done, total);
    }
  } finally {
    await handle.close().catch(() => {});
  }
  if (overlong) {
    await rm(partPath, { force: true });
    throw sizeMismatch(url, expected.size!, "its body runs past that");
  }
  if (total !== undefined && done < total)
    throw new DroppedConnection(`connection closed at ${done} of ${total} bytes`);
}

function tooLarge(url: string, max: number, what: string): InfuseError {
  return new InfuseError(
    "hub.download_too_large",
    `download of ${url}: at most ${max} bytes are allowed, but ${what}`,
    {
      kind: "network",
      hint: "raise limits.maxDownloadBytes in infuse.config.json if the file is trusted and this large",
      details: { url, limit: "limits.maxDownloadBytes", max },
    },
  );
}

function sizeMismatch(url: string, size: number, what: string): InfuseError {
  return new InfuseError("hub.size_mismatch", `download of ${url}: the hub announced ${size} bytes, but ${what}`, {
    kind: "network",
    hint: "the partial file was removed; run the command again, and check HF_ENDPOINT if it keeps failing",
    details: { url, size },
  });
}

async function verify(partPath: string, expected: ExpectedFile, url: string): Promise<void> {
  const size = (await stat(partPath)).size;
  const fail = (what: string) => {
    return rm(partPath, { force: true }).then(() => {
      throw new InfuseError("hub.checksum_mismatch", `download of ${url} is corrupt: ${what}`, {
        kind: "network",
        hint: "the partial file was removed; run the command again to download it anew (check HF_ENDPOINT if it keeps failing)",
        details: { url },
      });
    });
  };
  if (expected.size !== undefined && size !== expected.size) {
    await fail(`${size} bytes, expected ${expected.size}`);
  }
  if (expected.checksum !== undefined) {
    const actual = await fileChecksum(partPath, expected.checksum);
    if (actual !== expected.checksum) await fail(`checksum ${actual}, expected ${expected.checksum}`);
  }
}

export function httpError(response: Response, url: string): InfuseError {
  const s = response.status;
  if (s === 401 || s === 403) {
    return new InfuseError("hub.unauthorized", `${url}: HTTP ${s} (the repository is gated or private)`, {
      kind: "network",
      hint: "set HF_TOKEN to a token that has access to this repository",
      details: { url, status: s },
    });
  }
  if (s === 404) {
    return new InfuseError("hub.not_found", `${url}: HTTP 404 (no such repository, revision or file)`, {
      kind: "not_found",
      hint: "check the owner/repo name, the revision and the file path",
      details: { url, status: s },
    });
  }
  return new InfuseError("hub.http_error", `${url}: HTTP ${s} ${response.statusText}`, {
    kind: "network",
    hint: "try again later, or set HF_ENDPOINT to a mirror",
    details: { url, status: s },
  });
}
