// Loads a Llama-family decoder's weights by GGUF tensor name, from a GGUF file (quantized matrices kept
// as stored when the engine decodes their type: all that Q4_K_M/Q5_K_M files mix) or a HF safetensors
// folder (names mapped). Every name and shape is checked. Leaves out PyTorch .bin checkpoints.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { GgmlType, type GgufFile } from "../../formats/gguf/index.js";
import { hfToGgufName } from "../../formats/hf/names.js";
import { checkStamp, fileStamp, readStamped } from "../../formats/stamped-read.js";
import { openSafetensors, type SafetensorsFile } from "../../formats/safetensors.js";
import { CODECS, quantize, QuantTensor, Tensor, type QuantType, type TensorReloader } from "../../tensor/index.js";
import { writableCodec, type ByteReloader } from "../../tensor/quant/formats.js";
import { droppableBytes } from "../../tensor/droppable.js";
import { dropBytes } from "../../tensor/quant/nbits.js";
import { Linear } from "../linear.js";
import type { LlamaConfig } from "./config.js";

export interface LlamaLayer {
  attnNorm: Tensor;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  ffnNorm: Tensor;
  gate: Linear;
  up: Linear;
  down: Linear;
}

export interface LlamaWeights {
  /** (V, C); quantized tables are dequantized row by row on lookup. */
  tokenEmbd: Tensor | QuantTensor;
  layers: LlamaLayer[];
  outputNorm: Tensor;
  /** (V, C); shares token_embd when the model ties them. */
  output: Linear;
}

/**
 * How matrices are held: "native" keeps f16/bf16 and q8_0/q4_0/q4_1/q5_0/q5_1/q4_k/q5_k/q6_k as stored
 * (the token-embedding table and output head too); "f32" dequantizes all.
 */
export type WeightMode = "native" | "f32";

/** One stored tensor: its row-major shape ([out, in] for a matrix) and how to read it. */
interface SourceTensor {
  shape: number[];
  f32(): Promise<Float32Array>;
  /** Raw bytes and engine type when the tensor can stay quantized; `reload` reads them again later. */
  quant?: { type: QuantType; bytes: () => Promise<Uint8Array>; reload?: ByteReloader };
  /** An f32 tensor's values read straight into `out` (its exact length), e.g. a row range of a stack. */
  f32Into?: (out: Float32Array) => Promise<void>;
  /** An f32 tensor's values read again, synchronously, after a kernel that held them let them go. */
  reloadF32?: TensorReloader;
  /** Where an f32 tensor's values lie in its file, for a kernel that reads them there itself. */
  range?: FileRange;
}

/** An f32 matrix's values in its GGUF file, as little-endian f32 from `offset`. */
export interface FileRange {
  file: string;
  offset: number;
  /** Throws `model.file_changed` where the file changed since the model was loaded. */
  verify(): void;
}

const QUANT_TYPES: Partial<Record<GgmlType, QuantType>> = {
  [GgmlType.F16]: "f16",
  [GgmlType.BF16]: "bf16",
  [GgmlType.Q8_0]: "q8_0",
  [GgmlType.Q4_0]: "q4_0",
  [GgmlType.Q4_K]: "q4_k",
  [GgmlType.Q4_1]: "q4_1",
  [GgmlType.Q5_0]: "q5_0",
  [GgmlType.Q5_1]: "q5_1",
  [GgmlType.Q5_K]: "q5_k",
  [GgmlType.Q6_K]: "q6_k",
};

export function ggufSource(file: GgufFile, options: TaskOptions): Map<string, SourceTensor> {
  const out = new Map<string, SourceTensor>();
  const stamp = fileStamp(file.path);
  for (const t of file.tensors) {
    const qt = QUANT_TYPES[t.type];
    const entry: SourceTensor = { shape: [...t.dims].reverse(), f32: () => file.readTensorF32(t.name, options) };
    if (t.type === GgmlType.F32) {
      entry.f32Into = (o) => file.readTensorInto(t.name, new Uint8Array(o.buffer, o.byteOffset, o.byteLength), options);
      entry.range = { file: file.path, offset: t.offset, verify: () => checkStamp(file.path, stamp, t.name) };
      entry.reloadF32 = (start = 0, count = t.byteSize / 4 - start) => {
        const out = new Float32Array(count);
        readStamped(file.path, stamp, t.offset + start * 4, count * 4, t.name, new Uint8Array(out.buffer));
        return out;
      };
    } else if (qt) {
      // a whole weight back into droppable bytes (nbits.ts), a few rows (an embedding lookup, per token)
      // into a plain array: a resizable buffer is an mmap of its own, and one per token slowed
      // SmolLM-135M's 512-token prompts by a third
      const reload: ByteReloader = (range) =>
        range
          ? readStamped(file.path, stamp, t.offset + range.offset, range.length, t.name, new Uint8Array(range.length))
          : readStamped(file.path, stamp, t.offset, t.byteSize, t.name, droppableBytes(t.byteSize));
      // Read into droppable buffers: dropBytes (nbits.ts) gives them back at once when a kernel holds the weight.
      const bytes = async (): Promise<Uint8Array> => {
        const out = droppableBytes(t.byteSize);
        await file.readTensorInto(t.name, out, options);
        return out;
      };
      entry.quant = { type: qt, bytes, reload };
    }
    out.set(t.name, entry);
  }
  return out;
}

async function openShards(dir: string): Promise<SafetensorsFile[]> {
  const index = path.join(dir, "model.safetensors.index.json");
  if (existsSync(index)) {
    const { weight_map } = JSON.parse(await readFile(index, "utf8")) as { weight_map: Record<string, string> };
    return Promise.all([...new Set(Object.values(weight_map))].map((f) => openSafetensors(path.join(dir, f))));
  }
  return [await openSafetensors(path.join(dir, "model.safetensors"))];
}

/** HF tensors under their GGUF names (f32 reads); the shards stay open until `close`. */
export async function safetensorsSource(
  dir: string,
  options: TaskOptions,
): Promise<{ tensors: Map<string, SourceTensor>; close: () => void }> {
  const shards = await openShards(dir);
  const out = new Map<string, SourceTensor>();
  const storedAs = new Map<string, string>();
  for (const shard of shards) {
    // Tied weights saved once: __metadata__ maps the missing name to the stored one.
    const aliases = Object.entries(shard.metadata)
      .filter(([alias, target]) => !shard.tensor(alias) && shard.tensor(target) && hfToGgufName("llama", alias))
      .map(([alias, target]) => ({ ...shard.tensor(target)!, name: alias }));
    for (const t of [...shard.tensors, ...aliases]) {
      const name = hfToGgufName("llama", t.name);
      if (name === null) continue;
      if (name === undefined) {
        throw new InfuseError("model.unknown_tensor", `${shard.path}: tensor ${t.name} has no llama name`, {
          kind: "input",
          details: { file: shard.path, tensor: t.name },
        });
      }
      const stored = shard.tensor(t.name) ? t.name : shard.metadata[t.name]!;
      out.set(name, { shape: [...t.shape], f32: () => shard.readTensorF32(stored, options) });
      storedAs.set(name, `${shard.path}:${stored}`);
    }
  }
  // One stored tensor under both names: drop output.weight so the model ties it to token_embd.
  if (
    storedAs.get("output.weight") !== undefined &&
    storedAs.get("output.weight") === storedAs.get("token_embd.weight")
  ) {
    out.delete("output.weight");
  }
  return { tensors: out, close: () => shards.forEach((s) => s.close()) };
}

/**
 * `model.not_finite` when float weights hold NaN or ±Inf (a damaged file would run and print garbage).
 * One branch-free pass (x·0 is NaN exactly for NaN and ±Inf), only for tensors read as f32 anyway;
 * matrices kept quantized as stored are not decoded to be checked (that would cost a full dequantize).
 */
/** The tensor `name` of `source` with exactly `shape`; else `model.missing_tensor` / `model.bad_shape` naming it. */
export function requireTensor<T extends { shape: readonly number[] }>(
  source: ReadonlyMap<string, T>,
  name: string,
  shape: readonly number[],
  where: string,
  family: string,
): T {
  const t = source.get(name);
  if (!t) {
    throw new InfuseError("model.missing_tensor", `${where}: tensor ${name} is missing`, {
      kind: "input",
      hint: `the file is incomplete or not ${family}`,
      details: { tensor: name },
    });
  }
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new InfuseError(
      "model.bad_shape",
      `${where}: tensor ${name} is (${t.shape.join(", ")}), expected (${shape.join(", ")})`,
      { kind: "input", details: { tensor: name, shape: t.shape, expected: shape } },
    );
  }
  return t;
}

export function checkFinite(data: Float32Array, name: string, where: string): Float32Array {
  let probe = 0;
  for (let i = 0; i < data.length; i++) probe += data[i]! * 0;
  if (probe === 0) return data;
  const at = data.findIndex((v) => !Number.isFinite(v));
  throw new InfuseError("model.not_finite", `${where}: tensor ${name} holds ${data[at]} at element ${at}`, {
    kind: "input",
    hint: "the model file is damaged (or was saved from a diverged run); download or convert it again",
    details: { tensor: name, index: at },
  });
}

/**
 * F32 matrices of one input (q, k, v; gate, up) moved into one buffer, each a row range of it, so a
 * decoder can run them as one product (`stackedRows`); other storage types are returned as they are.
 */
export function stackRows(weights: (Tensor | QuantTensor)[]): (Tensor | QuantTensor)[] {
  if (!weights.every((w) => w instanceof Tensor)) return weights;
  const all = new Float32Array(weights.reduce((n, w) => n + w.size, 0));
  let at = 0;
  return weights.map((w) => {
    const view = all.subarray(at, at + w.size);
    view.set(w.data);
    at += w.size;
    return new Tensor(view, w.shape);
  });
}

/** The one (ΣN, K) buffer f32 weights of one input share, in order, or null (see stackRows). */
export function stackedRows(weights: (Tensor | QuantTensor)[]): Float32Array | null {
  const first = weights[0];
  if (!(first instanceof Tensor)) return null;
  let end = first.data.byteOffset;
  for (const w of weights) {
    if (!(w instanceof Tensor) || w.data.buffer !== first.data.buffer || w.data.byteOffset !== end) return null;
    end += w.data.byteLength;
  }
  return new Float32Array(first.data.buffer, first.data.byteOffset, (end - first.data.byteOffset) / 4);
}

const fileRanges = new WeakMap<Tensor, FileRange>();

/** Where an f32 weight's values lie in its GGUF file, if they do (a matrix loaded from one). */
export function fileRange(w: Tensor): FileRange | undefined {
  return fileRanges.get(w);
}

/** `w`, able to drop its values (Tensor.dropValues) where its source reads them again synchronously. */
function reloadable(w: Tensor, source: SourceTensor): Tensor {
  if (source.reloadF32) w.setReloader(source.reloadF32);
  if (source.range) fileRanges.set(w, source.range);
  return w;
}

/** Reads every tensor the config asks for; throws naming the first missing or mis-shaped one. */
export async function loadWeights(
  config: LlamaConfig,
  source: Map<string, SourceTensor>,
  mode: WeightMode,
  where: string,
  options: TaskOptions & { quantize?: QuantType } = {},
): Promise<LlamaWeights> {
  const { dim, ffnDim, vocabSize, heads, kvHeads, headDim } = config;
  if (options.quantize) writableCodec(options.quantize); // a storage-only type fails before any read
  const take = (name: string, shape: number[]): SourceTensor =>
    requireTensor(source, name, shape, where, "a llama-family decoder");
  const f32 = async (name: string, t: SourceTensor): Promise<Float32Array> => checkFinite(await t.f32(), name, where);
  const vector = async (name: string, n: number): Promise<Tensor> => new Tensor(await f32(name, take(name, [n])), [n]);
  const matrix = async (name: string, rows: number, cols: number): Promise<Tensor | QuantTensor> => {
    throwIfAborted(options.signal, `load ${where}`);
    const t = take(name, [rows, cols]);
    // QLoRA: block matrices quantized one at a time as they load; rows the block size does not divide stay f32.
    if (options.quantize && name.startsWith("blk.") && cols % CODECS[options.quantize].blockValues === 0) {
      return quantize(options.quantize, await f32(name, t), [rows, cols]);
    }
    if (mode === "native" && t.quant)
      return new QuantTensor(t.quant.type, [rows, cols], await t.quant.bytes(), t.quant.reload);
    if (t.reloadF32 && t.f32Into) {
      const values = new Float32Array(droppableBytes(rows * cols * 4).buffer, 0, rows * cols);
      await t.f32Into(values);
      return reloadable(new Tensor(checkFinite(values, name, where), [rows, cols]), t);
    }
    return new Tensor(await f32(name, t), [rows, cols]);
  };
  const linear = async (name: string, rows: number, cols: number): Promise<Linear> => {
    const bias = source.has(`${name}.bias`) ? await vector(`${name}.bias`, rows) : null;
    return new Linear(name, await matrix(`${name}.weight`, rows, cols), bias);
  };
  /** Linears that read the same input, their f32 weights stacked in one buffer (see stackRows). */
  const group = async (specs: [string, number, number][]): Promise<Linear[]> => {
    const sources = specs.map(([name, rows, cols]) => take(`${name}.weight`, [rows, cols]));
    let stacked: (Tensor | QuantTensor)[];
    if (sources.every((t) => t.f32Into) && !(options.quantize && specs[0]![0].startsWith("blk."))) {
      // f32 in the file: each read straight into its rows of the stack (no copy left for the collector)
      throwIfAborted(options.signal, `load ${where}`);
      const count = specs.reduce((n, [, rows, cols]) => n + rows * cols, 0);
      // droppable where the file gives the values back: a kernel that holds them frees this at once
      const all = sources.every((t) => t.reloadF32)
        ? new Float32Array(droppableBytes(count * 4).buffer, 0, count)
        : new Float32Array(count);
      let at = 0;
      stacked = [];
      for (const [i, [name, rows, cols]] of specs.entries()) {
        const view = all.subarray(at, (at += rows * cols));
        await sources[i]!.f32Into!(view);
        stacked.push(reloadable(new Tensor(checkFinite(view, `${name}.weight`, where), [rows, cols]), sources[i]!));
      }
    } else {
      const weights = [];
      for (const [name, rows, cols] of specs) weights.push(await matrix(`${name}.weight`, rows, cols));
      stacked = stackRows(weights);
    }
    const out = [];
    for (const [i, [name, rows]] of specs.entries()) {
      const bias = source.has(`${name}.bias`) ? await vector(`${name}.bias`, rows) : null;
      out.push(new Linear(name, stacked[i]!, bias));
    }
    return out;
  };
  const tokenEmbd = await matrix("token_embd.weight", vocabSize, dim);
  // A stored table is read a row per token from its file (llama.cpp's mmap touches only those rows too);
  // as a tied output head its bytes come back once, for the kernel that then holds them.
  if (tokenEmbd instanceof QuantTensor) dropBytes(tokenEmbd);
  const layers: LlamaLayer[] = [];
  for (let l = 0; l < config.layers; l++) {
    const p = `blk.${l}`;
    const attnNorm = await vector(`${p}.attn_norm.weight`, dim);
    const [q, k, v] = await group([
      [`${p}.attn_q`, heads * headDim, dim],
      [`${p}.attn_k`, kvHeads * headDim, dim],
      [`${p}.attn_v`, kvHeads * headDim, dim],
    ]);
    const o = await linear(`${p}.attn_output`, dim, heads * headDim);
    const ffnNorm = await vector(`${p}.ffn_norm.weight`, dim);
    const [gate, up] = await group([
      [`${p}.ffn_gate`, ffnDim, dim],
      [`${p}.ffn_up`, ffnDim, dim],
    ]);
    const down = await linear(`${p}.ffn_down`, dim, ffnDim);
    layers.push({ attnNorm, q: q!, k: k!, v: v!, o, ffnNorm, gate: gate!, up: up!, down });
  }
  const outputNorm = await vector("output_norm.weight", dim);
  const output = source.has("output.weight") ? await linear("output", vocabSize, dim) : new Linear("output", tokenEmbd); // tied embeddings
  return { tokenEmbd, layers, outputNorm, output };
}
