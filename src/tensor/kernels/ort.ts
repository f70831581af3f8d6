// The one file that imports onnxruntime-node: synchronous calls into its CPU kernels (MLAS sgemm)
// through cached sessions whose graphs use symbolic dims, so one session serves every shape.
// It uses the package's synchronous native session (dist/binding), pinned with onnxruntime-node 1.30.
import { computeThreads } from "../../core/threads.js";
import { createRequire } from "node:module";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import type { MatmulDims } from "./kernel.js";
import { encodeOnnxModel, type OnnxExternal, type OnnxFill, type OnnxNode } from "./onnx-model.js";
import { InitializerFile, isWriteFailure } from "./initializer-file.js";
import { noteOutputCopies } from "./output-copies.js";
import { dropBuffer, droppableBytes } from "../droppable.js";

interface OrtTensor {
  data: unknown;
  dims: readonly number[];
}
type OrtTensorCtor = new (
  type: "float32" | "int64",
  data: Float32Array | BigInt64Array,
  dims: readonly number[],
) => OrtTensor;
interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  readonly outputMetadata: { name: string }[];
  dispose(): void;
  run(
    feeds: Record<string, OrtTensor>,
    fetches: Record<string, OrtTensor | null>,
    options: object,
  ): Record<string, OrtTensor>;
}
interface OrtModule {
  Tensor: OrtTensorCtor;
  native: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

let ort: OrtModule | null | undefined;
const sessions = new Map<string, NativeSession>();

/**
 * Options every session shares: our thread count, sequential execution, no memory arena, and intra-op
 * threads that spin between the ops of one run but stop spinning when the run returns
 * (session.force_spinning_stop). Every cached session (matmul, each fused graph, each quantized weight)
 * has its own pool: pools that kept spinning after their run starved the next session's and the JS
 * thread (LoRA training of SmolLM-135M's shape: 38 tokens/s, 108 with spinning off; decoding it with
 * every pool spinning: 18 tokens/s, 37 off). Spinning only inside a run spares a wake-up of a sleeping
 * worker at each parallel op: SmolLM-135M F32 generation 37.0/38.4 → 41.0/40.4 tokens/s, TinyLlama
 * Q4_0 27.7 → 23.7 ms a token (alternating runs, load ~2); LoRA training unchanged within its spread.
 * Where sessions run on several threads at once (the server: generation, embeddings and jobs), spinning
 * pools take the cores from one another: `ortSpinning()` is off there.
 */
function sessionOptions(arena = false, memPattern = true) {
  return {
    intraOpNumThreads: ortThreads(),
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableCpuMemArena: arena,
    enableMemPattern: memPattern,
    extra: { session: { intra_op: { allow_spinning: ortSpinning() ? "1" : "0" }, force_spinning_stop: "1" } },
  } as const;
}

/** Session options that look for initializers' external files in `folder` (a model loaded from bytes has no folder of its own). */
function withExternalFolder(options: ReturnType<typeof sessionOptions>, folder: string | undefined) {
  if (folder === undefined) return options;
  const session = { ...options.extra.session, model_external_initializers_file_folder_path: folder };
  return { ...options, extra: { ...options.extra, session } };
}

/**
 * Whether sessions created from now on spin between a run's ops: yes unless INFUSE_ORT_SPIN=0, which
 * `startServer` sets (worker threads inherit it) and an application running models on several threads
 * at once should set.
 */
export function ortSpinning(): boolean {
  return process.env["INFUSE_ORT_SPIN"] !== "0";
}

/** Number of threads each ORT session uses inside one op; INFUSE_THREADS overrides. */
export function ortThreads(): number {
  return computeThreads();
}

function loadOrt(): OrtModule | null {
  if (ort !== undefined) return ort;
  try {
    const require = createRequire(import.meta.url);
    const pub = require("onnxruntime-node") as { Tensor: OrtTensorCtor };
    const bind = require("onnxruntime-node/dist/binding.js") as {
      binding: OrtModule["native"];
      initOrt: () => void;
    };
    bind.initOrt();
    ort = { Tensor: pub.Tensor, native: bind.binding, initOrt: bind.initOrt };
  } catch {
    ort = null;
  }
  return ort;
}

/** True when the native ORT kernels loaded; callers fall back to the reference kernels otherwise. */
export function ortAvailable(): boolean {
  return loadOrt() !== null;
}

function session(key: string, build: () => Uint8Array): NativeSession {
  const cached = sessions.get(key);
  if (cached) return cached;
  const mod = loadOrt();
  if (!mod)
    throw new InfuseError("tensor.ort_unavailable", "onnxruntime-node could not be loaded", {
      hint: "reinstall dependencies (npm install)",
    });
  const bytes = build();
  const s = new mod.native.InferenceSession();
  s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, sessionOptions());
  sessions.set(key, s);
  return s;
}

const flag = (b: boolean): number => (b ? 1 : 0);

/** A named input or output of `runOnnxModel`. */
export interface OrtValue {
  data: Float32Array | BigInt64Array;
  dims: readonly number[];
}

/**
 * Runs an encoded ONNX model synchronously. The session is created once per `key` and cached,
 * so build the bytes lazily: `runOnnxModel("my-graph", () => encodeOnnxModel(spec), feeds)`.
 * `into` names outputs ORT writes straight into (pre-allocated, exact dims); the other outputs are
 * allocated by ORT and returned. (The 1.30 binding still returns a copy of each: output-copies.ts.)
 */
export function runOnnxModel(
  key: string,
  model: () => Uint8Array,
  feeds: Record<string, OrtValue>,
  into: Record<string, OrtValue> = {},
): Record<string, OrtValue> {
  const mod = loadOrt();
  if (!mod)
    throw new InfuseError("tensor.ort_unavailable", "onnxruntime-node could not be loaded", {
      hint: "reinstall dependencies (npm install)",
    });
  const s = session(`user:${key}`, model);
  const ortFeeds: Record<string, OrtTensor> = {};
  for (const [name, v] of Object.entries(feeds)) {
    ortFeeds[name] = new mod.Tensor(v.data instanceof Float32Array ? "float32" : "int64", v.data, v.dims);
  }
  let results: Record<string, OrtTensor>;
  try {
    const fetches: Record<string, OrtTensor | null> = {};
    for (const { name } of s.outputMetadata) {
      const v = into[name];
      fetches[name] = v ? new mod.Tensor(v.data instanceof Float32Array ? "float32" : "int64", v.data, v.dims) : null;
    }
    results = s.run(ortFeeds, fetches, {});
  } catch (cause) {
    throw new InfuseError("tensor.ort_run_failed", `onnxruntime run of "${key}" failed: ${String(cause)}`, {
      cause,
      hint: "check the feed names, dtypes and shapes against the model's inputs",
    });
  }
  const out: Record<string, OrtValue> = {};
  for (const [name, t] of Object.entries(results))
    out[name] = into[name] ?? { data: t.data as Float32Array | BigInt64Array, dims: t.dims };
  return out;
}

/**
 * C = op(A) · op(B) for `batch` independent products, row-major f32.
 * A holds (batch, M, K) or (batch, K, M) if transA; B holds (batch|1, K, N) or (batch|1, N, K) if transB.
 * A B with batch 1 while A has batch > 1 is broadcast. Writes into `out` (batch, M, N).
 */
export function ortMatmul(a: Float32Array, b: Float32Array, out: Float32Array, dims: MatmulDims): void {
  const { batch, m, k, n, transA, transB, bBatched } = dims;
  const mod = loadOrt();
  if (!mod) throw new InfuseError("tensor.ort_unavailable", "onnxruntime-node could not be loaded");
  const aDims = transA ? [k, m] : [m, k];
  const bDims = transB ? [n, k] : [k, n];
  if (batch === 1 || !bBatched) {
    // Broadcast B: fold the batch into rows when A is not transposed; else loop (rare: backward of A^T).
    if (!transA || batch === 1) {
      const rows = batch * m;
      const s = session(`gemm:${flag(transA)}${flag(transB)}`, () => gemmModel(transA, transB));
      // Plain MatMul (no transposes) runs faster than Gemm in MLAS; Gemm handles the transposed cases.
      const aShape = transA ? [k, rows] : [rows, k];
      // `out` is passed as a pre-allocated output: ORT writes into it (the binding's copy is garbage).
      const feeds = { A: new mod.Tensor("float32", a, aShape), B: new mod.Tensor("float32", b, bDims) };
      s.run(feeds, { Y: new mod.Tensor("float32", out, [rows, n]) }, {});
      return;
    }
    for (let i = 0; i < batch; i++) {
      const sub = out.subarray(i * m * n, (i + 1) * m * n);
      ortMatmul(a.subarray(i * m * k, (i + 1) * m * k), b, sub, { ...dims, batch: 1 });
    }
    return;
  }
  const s = session(`bmm:${flag(transA)}${flag(transB)}`, () => batchedModel(transA, transB));
  const feeds = {
    A: new mod.Tensor("float32", a, [batch, ...aDims]),
    B: new mod.Tensor("float32", b, [batch, ...bDims]),
  };
  s.run(feeds, { Y: new mod.Tensor("float32", out, [batch, m, n]) }, {});
}

function gemmModel(transA: boolean, transB: boolean): Uint8Array {
  const node: OnnxNode =
    transA || transB
      ? {
          op: "Gemm",
          inputs: ["A", "B"],
          outputs: ["Y"],
          attributes: [
            { name: "transA", int: flag(transA) },
            { name: "transB", int: flag(transB) },
          ],
        }
      : { op: "MatMul", inputs: ["A", "B"], outputs: ["Y"] };
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "A", type: "float", dims: ["a0", "a1"] },
      { name: "B", type: "float", dims: ["b0", "b1"] },
    ],
    outputs: [{ name: "Y", type: "float", dims: ["m", "n"] }],
    nodes: [node],
  });
}

function batchedModel(transA: boolean, transB: boolean): Uint8Array {
  const nodes: OnnxNode[] = [];
  const swap = [{ name: "perm", ints: [0, 2, 1] }];
  if (transA) nodes.push({ op: "Transpose", inputs: ["A"], outputs: ["At"], attributes: swap });
  if (transB) nodes.push({ op: "Transpose", inputs: ["B"], outputs: ["Bt"], attributes: swap });
  nodes.push({ op: "MatMul", inputs: [transA ? "At" : "A", transB ? "Bt" : "B"], outputs: ["Y"] });
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "A", type: "float", dims: ["batch", "a1", "a2"] },
      { name: "B", type: "float", dims: ["batch", "b1", "b2"] },
    ],
    outputs: [{ name: "Y", type: "float", dims: ["batch", "m", "n"] }],
    nodes,
  });
}

/** A caller-owned session of one encoded graph: run it with named feeds, outputs written into `into`. */
export interface OrtGraph {
  run(feeds: Record<string, OrtValue>, into: Record<string, OrtValue>): void;
  dispose(): void;
}

/** How an `ortGraph` session allocates its intermediate values. */
export interface OrtGraphOptions {
  /**
   * Keep them in the session's own memory arena, reused from run to run. For one session that runs
   * large shapes often (the f32 decoder layer, shared by every layer): without it each run's
   * megabyte-sized intermediates went through malloc and free, and glibc kept the freed pieces
   * (SmolLM-135M f32, 512-token prompts: peak RSS ~870 → ~770 MB). Costs the arena's high-water mark
   * per session, so not for the per-layer quantized sessions (31 arenas held 1.2 GB).
   */
  arena?: boolean;
  /**
   * onnxruntime's memory pattern (default on): from the second run of a shape, one block for all of a
   * run's intermediates instead of one allocation each. Off for the per-layer quantized graphs: that
   * block (~10 MB for a 128-token chunk of SmolLM-135M) comes from and goes back to malloc every run,
   * and each free of it raises glibc's mmap threshold, sending everything smaller to the heap, which
   * keeps it (SmolLM-135M Q8_0, bench child, 3 pairs, load 5–6: peak RSS 495–505 MB off, 501–546 on;
   * prompt and generation tokens/s unchanged within the run-to-run spread).
   */
  memPattern?: boolean;
  /**
   * The folder that holds the files initializers leave their bytes in (OnnxExternal): onnxruntime maps
   * them while it builds the session and lets them go once it has its (prepacked) copy.
   */
  externalFolder?: string;
  /** Collect the binding's copies of the outputs once enough have built up (output-copies.ts). */
  boundCopies?: boolean;
}

/**
 * A session of `bytes` (initializers held, and prepacked, by onnxruntime) that the caller disposes,
 * unlike runOnnxModel's cache: for graphs that hold one model's weights.
 */
export function ortGraph(bytes: Uint8Array, name: string, options: OrtGraphOptions = {}): OrtGraph {
  const mod = loadOrt();
  if (!mod)
    throw new InfuseError("tensor.ort_unavailable", "onnxruntime-node could not be loaded", {
      hint: "reinstall dependencies (npm install)",
    });
  const s = new mod.native.InferenceSession();
  try {
    s.loadModel(
      bytes.buffer as ArrayBuffer,
      bytes.byteOffset,
      bytes.byteLength,
      withExternalFolder(sessionOptions(options.arena, options.memPattern), options.externalFolder),
    );
  } catch (cause) {
    throw new InfuseError("tensor.ort_load_failed", `onnxruntime could not build "${name}": ${String(cause)}`, {
      cause,
      hint: options.externalFolder
        ? `check that the model file in ${options.externalFolder} is readable, or set INFUSE_LAYER_GRAPHS=0 to run without the layer graphs`
        : "the graph is malformed: report it with the message",
    });
  }
  const tensor = (v: OrtValue): OrtTensor =>
    new mod.Tensor(v.data instanceof Float32Array ? "float32" : "int64", v.data, v.dims);
  return {
    run(feeds, into) {
      const f: Record<string, OrtTensor> = {};
      for (const key in feeds) f[key] = tensor(feeds[key]!);
      const o: Record<string, OrtTensor> = {};
      for (const key in into) o[key] = tensor(into[key]!);
      try {
        s.run(f, o, {});
        if (options.boundCopies) for (const key in into) noteOutputCopies(into[key]!.data.byteLength);
      } catch (cause) {
        throw new InfuseError("tensor.ort_run_failed", `onnxruntime run of "${name}" failed: ${String(cause)}`, {
          cause,
          hint: "check the feed names, dtypes and shapes against the model's inputs",
        });
      }
    },
    dispose: () => s.dispose(),
  };
}

/** Where `encode` puts an initializer's bytes: returned as they are (encoded in the model) or as an OnnxExternal. */
export type PlaceBytes = (data: OnnxFill | Uint8Array) => OnnxFill | Uint8Array | OnnxExternal;

/**
 * ortGraph of the model `encode` makes, the initializers it passes through `place` written to a temporary
 * file that onnxruntime reads itself and that is deleted once the session is built (initializer-file.ts:
 * no heap copies of them while it is built), or encoded in memory where no such file can be written or
 * read back.
 */
export function ortGraphOfEncoded(
  encode: (place: PlaceBytes) => Uint8Array,
  name: string,
  options: OrtGraphOptions = {},
): OrtGraph {
  const file = InitializerFile.create();
  if (file) {
    try {
      const bytes = encode((data) => file.put(data));
      file.close();
      return ortGraph(bytes, name, { ...options, externalFolder: file.folder });
    } catch (e) {
      // not written, or not read back: the same model encoded in memory (its own error if it fails too)
      if (!isWriteFailure(e) && (e as InfuseError).code !== "tensor.ort_load_failed") throw e;
    } finally {
      file.remove();
    }
  }
  return ortGraph(
    encode((data) => data),
    name,
    options,
  );
}

/** A weight in MatMulNBits form: (N, K/blockSize, blockSize·bits/8) bytes, f32 scales, zero point 2^(bits−1). */
export interface NBitsWeight {
  bits: 4 | 8;
  blockSize: 32;
  n: number;
  k: number;
  /** Arrays, or fills that write them straight into the encoded model (nbits.ts). */
  packed: Uint8Array | OnnxFill;
  scales: Float32Array | OnnxFill;
}

/**
 * The bytes of weight-holding models (quantized layer graphs, MatMulNBits weights) are encoded into one
 * scratch buffer, reused from model to model instead of a fresh MB-sized buffer per session. It lies
 * outside the malloc heap (droppableBytes), so it leaves no hole there where onnxruntime's prepacked
 * weights, made between two models, would otherwise sit among freed model copies (SmolLM-135M Q8_0: see
 * layer-graph.ts), and its pages go back to the system as soon as the outermost withModelScratch
 * returns: left to the collector, they stayed resident through the prompts that followed (SmolLM-135M
 * Q8_0, a first call of one token, then 512-token prompts: peak RSS 444–445 → ~412 MB). At least 33 MiB,
 * so that one buffer serves every model of a build; untouched pages never become resident.
 */
const SCRATCH_MIN_BYTES = 33 << 20;
let scratch: Uint8Array | null = null;
let scratchUsers = 0;

/**
 * Runs `build` (which encodes models into `modelScratch`) and drops the scratch buffer when the outermost
 * such call returns: nested calls, e.g. a model's sessions built in one sequence, share one buffer.
 */
export function withModelScratch<T>(build: () => T): T {
  scratchUsers++;
  try {
    return build();
  } finally {
    if (--scratchUsers === 0 && scratch) {
      dropBuffer(scratch.buffer);
      scratch = null;
    }
  }
}

/** A view of `byteLength` bytes of the scratch buffer, for encodeOnnxModel's `into` inside withModelScratch. */
export function modelScratch(byteLength: number): Uint8Array {
  if (scratchUsers === 0) return new Uint8Array(byteLength);
  if (!scratch || scratch.byteLength < byteLength) {
    if (scratch) dropBuffer(scratch.buffer); // returned before the larger one is made
    scratch = droppableBytes(Math.max(byteLength, SCRATCH_MIN_BYTES));
  }
  return scratch.subarray(0, byteLength);
}

/** A frozen weight onnxruntime holds prepacked (block-quantized, or f32 read from its file), run as y = x·Wᵀ. */
export interface OrtHeldWeight {
  run(x: Float32Array, m: number, out: Float32Array): void;
  dispose(): void;
}

/**
 * Builds a session whose MatMulNBits node holds W as an initializer. accuracyLevel 0 computes in f32
 * (agrees with the dequantized product to f32 rounding); 4 quantizes x to int8 per block, as llama.cpp does.
 * An array of weights (of one K) is W in row slices: one node each, their outputs side by side.
 */
export function ortQuantWeight(w: NBitsWeight | NBitsWeight[], accuracyLevel: 0 | 4 = 0): OrtHeldWeight {
  return withModelScratch(() => quantWeightSession(Array.isArray(w) ? w : [w], accuracyLevel));
}

/** F32 weights onnxruntime holds (prepacked), read from their file: Linear.forwardRaw runs them there. */
const heldF32 = new WeakMap<object, OrtHeldWeight>();

/** The kernel that holds `w` (holdF32Weight), if one does. */
export function heldF32Kernel(w: object): OrtHeldWeight | undefined {
  return heldF32.get(w);
}

/**
 * y = x·Wᵀ for an f32 W (N, K) that onnxruntime reads from `file` at `offset` itself (OnnxExternal) and
 * holds prepacked, registered for `w` (heldF32Kernel): the decoder's output head, whose tied table the
 * caller may then drop (a GEMV over prepacked weights: ~38 against ~28 GB/s fed, SmolLM-135M's head).
 */
export function holdF32Weight(w: object, n: number, k: number, file: string, offset: number): OrtHeldWeight {
  const mod = loadOrt();
  if (!mod) throw new InfuseError("tensor.ort_unavailable", "onnxruntime-node could not be loaded");
  const data = { file: path.basename(file), offset, byteLength: n * k * 4 };
  const bytes = encodeOnnxModel({
    opset: 17,
    inputs: [{ name: "A", type: "float", dims: ["m", k] }],
    outputs: [{ name: "Y", type: "float", dims: ["m", n] }],
    initializers: [{ name: "W", dims: [n, k], type: "float", data }],
    nodes: [{ op: "Gemm", inputs: ["A", "W"], outputs: ["Y"], attributes: [{ name: "transB", int: 1 }] }],
  });
  const g = ortGraph(bytes, `held-${path.basename(file)}@${offset}`, { externalFolder: path.dirname(file) });
  const kernel: OrtHeldWeight = {
    run(x, m, out) {
      g.run({ A: { data: x.subarray(0, m * k), dims: [m, k] } }, { Y: { data: out.subarray(0, m * n), dims: [m, n] } });
    },
    dispose: () => {
      heldF32.delete(w);
      g.dispose();
    },
  };
  heldF32.set(w, kernel);
  return kernel;
}

function quantWeightSession(slices: NBitsWeight[], accuracyLevel: 0 | 4): OrtHeldWeight {
  const k = slices[0]!.k;
  const n = slices.reduce((a, w) => a + w.n, 0);
  const one = slices.length === 1;
  const nodes: OnnxNode[] = slices.map((w, i) => ({
    op: "MatMulNBits",
    domain: "com.microsoft",
    inputs: ["A", `B${i}`, `S${i}`],
    outputs: [one ? "Y" : `Y${i}`],
    attributes: [
      { name: "K", int: w.k },
      { name: "N", int: w.n },
      { name: "bits", int: w.bits },
      { name: "block_size", int: w.blockSize },
      { name: "accuracy_level", int: accuracyLevel },
    ],
  }));
  if (!one)
    nodes.push({
      op: "Concat",
      inputs: slices.map((_, i) => `Y${i}`),
      outputs: ["Y"],
      attributes: [{ name: "axis", int: -1 }],
    });
  const encode = (place: PlaceBytes): Uint8Array =>
    encodeOnnxModel(
      {
        opset: 17,
        extraOpsets: { "com.microsoft": 1 },
        inputs: [{ name: "A", type: "float", dims: ["m", k] }],
        outputs: [{ name: "Y", type: "float", dims: ["m", n] }],
        initializers: slices.flatMap((w, i) => {
          const blocks = w.k / w.blockSize;
          return [
            {
              name: `B${i}`,
              dims: [w.n, blocks, (w.blockSize * w.bits) / 8],
              data: place(w.packed),
              type: "uint8" as const,
            },
            { name: `S${i}`, dims: [w.n * blocks], data: w.scales, type: "float" as const },
          ];
        }),
        nodes,
      },
      modelScratch,
    );
  // One session per weight means hundreds of intra-op pools (Q8_0 decode on stories15M: 8.9 → 190
  // tokens/s once they stopped spinning after their runs).
  const g = ortGraphOfEncoded(encode, `MatMulNBits ${n}×${k}`);
  // The dims only: holding the weights would keep their bytes (or fills' weights) alive next to ORT's copy.
  return {
    run(x, m, out) {
      g.run({ A: { data: x.subarray(0, m * k), dims: [m, k] } }, { Y: { data: out.subarray(0, m * n), dims: [m, n] } });
    },
    dispose: () => g.dispose(),
  };
}
