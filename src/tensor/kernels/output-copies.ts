// onnxruntime-node 1.30's binding copies every output of a run into a new ArrayBuffer before it returns
// (its OrtValueToNapiValue), also an output we gave it to write into: ORT writes ours, the binding
// copies it, and the copy is garbage at once (a later release wraps the output instead). V8 frees such
// buffers only at a collection, which it starts once ~64 MB of them have built up; until then they sit
// in the malloc heap among onnxruntime's short-lived intermediates, and glibc keeps the space of both.
// A decoder's runs leave 46 KB of copies per token (SmolLM-135M's new keys and values), so one
// 512-token prompt leaves ~25 MB. `noteOutputCopies` counts them and runs a young-generation collection
// (~1 ms: the copies' objects are young) each time COPY_BOUND bytes have built up. SmolLM-135M Q8_0,
// bench child, 4 alternating pairs: peak RSS 378–387 → 365–370 MB; prompts alternating with and without
// the collections in one process: the same tokens/s within the VM's noise.
// The collector is the process's own gc() (node --expose-gc), else the one `--expose-gc` gives a new
// context when set at run time (v8.setFlagsFromString); where neither exists, V8's own schedule stands.
import v8 from "node:v8";
import vm from "node:vm";

/** Output bytes copied between two collections. */
const COPY_BOUND = 8 << 20;

type Collect = (options: { type: "minor" }) => void;

let copied = 0;
let collect: Collect | null | undefined;

function collector(): Collect | null {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") return own as Collect;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    return typeof gc === "function" ? (gc as Collect) : null;
  } catch {
    return null;
  }
}

/** Counts `bytes` of outputs the binding copied; collects them once COPY_BOUND bytes have built up. */
export function noteOutputCopies(bytes: number): void {
  copied += bytes;
  if (copied < COPY_BOUND) return;
  copied = 0;
  if (collect === undefined) collect = collector();
  collect?.({ type: "minor" });
}
