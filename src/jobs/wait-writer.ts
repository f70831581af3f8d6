// Jobs that write one collection from several workers: a store that allows one writer at a time
// answers `rag.collection_busy`; the job waits (abortably, with growing pauses) and tries again.
import { cancelledError, isInfuseError } from "../core/errors.js";

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up (rethrow the busy error) after this long; default 10 minutes. */
  maxWaitMs?: number;
  onWait?: (message: string) => void;
}

/** Sleeps `ms`, or throws `cancelled` as soon as the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError("waiting", signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError("waiting", signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs `fn`, running it again while it fails with `rag.collection_busy`. */
export async function waitForWriter<T>(fn: () => Promise<T>, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.maxWaitMs ?? 600_000);
  let pause = 50;
  let told = false;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isInfuseError(e) || e.code !== "rag.collection_busy" || Date.now() + pause > deadline) throw e;
      if (!told) options.onWait?.(`${e.message}; waiting for it`);
      told = true;
      await sleep(pause + Math.floor(Math.random() * pause), options.signal);
      pause = Math.min(pause * 2, 1000);
    }
  }
}
