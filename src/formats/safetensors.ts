// safetensors read (header parsed and checked, tensors read lazily by byte range) and write.
// Leaves out dtypes other than floats and ints: F8 variants are refused.
import { closeSync, fstatSync, openSync, read, readSync } from "node:fs";
import { open } from "node:fs/promises";
import { InfuseError, throwIfAborted } from "../core/errors.js";
import type { TaskOptions } from "../core/progress.js";
import { bf16ToF32, f16Lookup, f32ToBf16, f32ToF16 } from "./gguf/half.js";

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  /** Row-major (PyTorch) shape: a Linear weight is [out, in]. */
  shape: number[];
  elementCount: number;
  byteSize: number;
  /** Absolute file offset. */
  offset: number;
}

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  tensors: SafetensorsTensorInfo[];
  tensor(name: string): SafetensorsTensorInfo | undefined;
  readTensorBytes(name: string, options?: TaskOptions): Promise<Uint8Array>;
  /** Any float dtype converted to float32. */
  readTensorF32(name: string, options?: TaskOptions): Promise<Float32Array>;
  close(): void;
}

const HEADER_LIMIT = 100 * 1024 * 1024;

function bad(
  file: string,
  offset: number,
  message: string,
  code = "safetensors.corrupt",
  tensor?: string,
): InfuseError {
  return new InfuseError(code, `${file}: ${message} (byte ${offset})`, {
    kind: "input",
    hint: "the file is truncated or corrupt; download or save it again",
    details: { file, offset, ...(tensor !== undefined ? { tensor } : {}) },
  });
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** `__metadata__`: string keys to string values, as the format defines it. */
function checkMetadata(file: string, v: unknown): Record<string, string> {
  const ok =
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
  if (!ok) throw bad(file, 8, "__metadata__ is not an object of strings");
  return v as Record<string, string>;
}

/**
 * One header entry checked before it is trusted: a known dtype, a shape of non-negative integers, and
 * data_offsets [begin, end] inside the data section spanning exactly dtype × shape bytes.
 */
function checkEntry(file: string, name: string, v: unknown, dataStart: number, size: number): SafetensorsTensorInfo {
  const fail = (message: string, code = "safetensors.corrupt", at = 8): InfuseError =>
    bad(file, at, `tensor ${name}: ${message}`, code, name);
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw fail(`header entry is ${JSON.stringify(v)}, expected {dtype, shape, data_offsets}`);
  const t = v as Record<string, unknown>;
  if (typeof t["dtype"] !== "string") throw fail(`dtype is ${JSON.stringify(t["dtype"]) ?? "missing"}`);
  const dtype = t["dtype"];
  const width = Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype as SafetensorsDtype] : undefined;
  if (width === undefined) throw fail(`unsupported dtype ${dtype}`, "safetensors.unsupported_dtype");
  const shape = t["shape"];
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw fail(`shape is ${JSON.stringify(shape) ?? "missing"}, expected a list of integers ≥ 0`);
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Number.isSafeInteger(count * width)) throw fail(`shape [${shape}] is too large`);
  const offsets = t["data_offsets"];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!)
    throw fail(`data_offsets is ${JSON.stringify(offsets) ?? "missing"}, expected [begin, end] with 0 ≤ begin ≤ end`);
  const [begin, end] = offsets as [number, number];
  if (end - begin !== count * width) {
    const needs = `needs ${count * width} bytes but spans ${end - begin}`;
    throw fail(`shape [${shape}] ${dtype} ${needs}`, "safetensors.size_mismatch", dataStart + begin);
  }
  if (dataStart + end > size)
    throw fail(`runs past the end of the file (${size} bytes)`, "safetensors.truncated", dataStart + begin);
  return {
    name,
    dtype: dtype as SafetensorsDtype,
    shape,
    elementCount: count,
    byteSize: end - begin,
    offset: dataStart + begin,
  };
}

export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new InfuseError("safetensors.open_failed", `${path}: cannot open (${(e as Error).message})`, {
      kind: (e as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io",
      cause: e,
    });
  }
  try {
    return parseHeader(fd, path, fstatSync(fd).size);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function parseHeader(fd: number, path: string, size: number): SafetensorsFile {
  if (size < 8) throw bad(path, 0, `file of ${size} bytes has no header length`, "safetensors.truncated");
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const n = lenBuf.readBigUInt64LE(0);
  if (n > BigInt(Math.min(HEADER_LIMIT, size - 8))) {
    throw bad(path, 0, `header length ${n} is larger than the file allows`, "safetensors.truncated");
  }
  const headerBytes = Buffer.alloc(Number(n));
  readSync(fd, headerBytes, 0, headerBytes.length, 8);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerBytes.toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    throw bad(path, 8, `header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    throw bad(path, 8, "header is not a JSON object");
  const dataStart = 8 + headerBytes.length;
  const tensors: SafetensorsTensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = checkMetadata(path, v);
      continue;
    }
    tensors.push(checkEntry(path, name, v, dataStart, size));
  }
  // byte ranges may touch but not overlap (empty tensors take no bytes)
  const spans = tensors.filter((t) => t.byteSize > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < spans.length; i++) {
    const [prev, t] = [spans[i - 1]!, spans[i]!];
    if (t.offset < prev.offset + prev.byteSize)
      throw bad(path, t.offset, `tensor ${t.name} overlaps tensor ${prev.name}`, "safetensors.corrupt", t.name);
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const info = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new InfuseError("safetensors.no_tensor", `${path}: no tensor named ${name}`, { kind: "not_found" });
    return t;
  };
  const readTensorBytes = async (name: string, options: TaskOptions = {}) => {
    const t = info(name);
    throwIfAborted(options.signal, `read ${name}`);
    const out = new Uint8Array(t.byteSize);
    let got = 0;
    while (got < t.byteSize) {
      const r = await new Promise<number>((res, rej) =>
        read(fd, out, got, t.byteSize - got, t.offset + got, (e, k) => (e ? rej(e) : res(k))),
      );
      if (r === 0) throw bad(path, t.offset + got, `tensor ${name} ends early`, "safetensors.truncated");
      got += r;
    }
    return out;
  };
  return {
    path,
    metadata,
    tensors,
    tensor: (name) => byName.get(name),
    readTensorBytes,
    async readTensorF32(name, options) {
      const t = info(name);
      return toF32(t.dtype, await readTensorBytes(name, options), `${path}: tensor ${name}`);
    },
    close: () => closeSync(fd),
  };
}

export function toF32(dtype: SafetensorsDtype, bytes: Uint8Array, where: string): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const y = new Float32Array(n);
  if (dtype === "F32") for (let i = 0; i < n; i++) y[i] = dv.getFloat32(i * 4, true);
  else if (dtype === "F16") {
    const t = f16Lookup();
    for (let i = 0; i < n; i++) y[i] = t[dv.getUint16(i * 2, true)]!;
  } else if (dtype === "BF16") for (let i = 0; i < n; i++) y[i] = bf16ToF32(dv.getUint16(i * 2, true));
  else if (dtype === "F64") for (let i = 0; i < n; i++) y[i] = dv.getFloat64(i * 8, true);
  else
    throw new InfuseError("safetensors.not_float", `${where}: dtype ${dtype} is not a float type`, { kind: "input" });
  return y;
}

export type SafetensorsTensorInput =
  | { name: string; shape: number[]; dtype: "F32" | "F16" | "BF16"; data: Float32Array }
  | { name: string; shape: number[]; dtype: SafetensorsDtype; bytes: Uint8Array };

function encode(t: SafetensorsTensorInput): Uint8Array {
  if ("bytes" in t) return t.bytes;
  const out = new Uint8Array(t.data.length * DTYPE_BYTES[t.dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < t.data.length; i++) {
    if (t.dtype === "F32") dv.setFloat32(i * 4, t.data[i]!, true);
    else dv.setUint16(i * 2, t.dtype === "F16" ? f32ToF16(t.data[i]!) : f32ToBf16(t.data[i]!), true);
  }
  return out;
}

/** Writes a safetensors file; the header is padded with spaces to 8 bytes as the reference writer does. */
export async function writeSafetensors(
  path: string,
  tensors: SafetensorsTensorInput[],
  metadata: Record<string, string> = {},
  options: TaskOptions = {},
): Promise<void> {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const size = count * DTYPE_BYTES[t.dtype];
    const given = "data" in t ? t.data.length * DTYPE_BYTES[t.dtype] : t.bytes.byteLength;
    if (given !== size) {
      throw new InfuseError(
        "safetensors.size_mismatch",
        `tensor ${t.name}: shape [${t.shape}] ${t.dtype} needs ${size} bytes, got ${given}`,
        { kind: "usage" },
      );
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fh = await open(path, "w");
  try {
    await fh.write(head);
    await fh.write(json);
    for (const t of tensors) {
      throwIfAborted(options.signal, `write ${path}`);
      await fh.write(encode(t));
    }
  } finally {
    await fh.close();
  }
}
