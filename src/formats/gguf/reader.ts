// GGUF reader: parses the header, metadata and tensor infos with bounds checks, then reads
// tensor bytes lazily by range on demand (the file is never read whole). Leaves out writing.
import { closeSync, fstatSync, openSync, read } from "node:fs";
import { InfuseError } from "../../core/errors.js";
import { throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { FileCursor } from "./cursor.js";
import { dequantize } from "./dequantize.js";
import { GGUF_KEYS } from "./keys.js";
import {
  GgmlType,
  GGML_MAX_DIMS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  VALUE_TYPE_SIZES,
  ggmlTypeName,
  isKnownGgmlType,
  tensorByteSize,
  type GgufKV,
  type GgufValue,
} from "./types.js";

export interface GgufTensorInfo {
  name: string;
  /** GGML dims, ne[0] first: ne[0] is the contiguous (row) length. A HF [out, in] weight is [in, out]. */
  dims: number[];
  type: GgmlType;
  elementCount: number;
  byteSize: number;
  /** Offset from the start of the data section, as stored. */
  relativeOffset: number;
  /** Absolute byte offset in the file. */
  offset: number;
}

export interface GgufFile {
  path: string;
  version: number;
  alignment: number;
  /** Absolute file offset where tensor data starts. */
  dataOffset: number;
  fileSize: number;
  metadata: Map<string, GgufKV>;
  tensors: GgufTensorInfo[];
  tensor(name: string): GgufTensorInfo | undefined;
  /** A metadata value, or undefined. */
  get(key: string): GgufValue | undefined;
  /** `general.architecture`, or "" if missing. */
  architecture: string;
  /** The tensor's raw bytes (its own buffer, read from the file now). */
  readTensorBytes(name: string, options?: TaskOptions): Promise<Uint8Array>;
  /** The tensor's stored bytes read into `out` (exactly its byte size), e.g. a view of a larger buffer. */
  readTensorInto(name: string, out: Uint8Array, options?: TaskOptions): Promise<void>;
  /** The tensor dequantized to float32 (ggml dims order: ne[0] fastest). */
  readTensorF32(name: string, options?: TaskOptions): Promise<Float32Array>;
  close(): void;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function corrupt(file: string, offset: number, message: string, hint = "the file is corrupt or not a GGUF file") {
  return new InfuseError("gguf.corrupt", `${file}: ${message} (byte ${offset})`, {
    kind: "input",
    hint,
    details: { file, offset },
  });
}

/**
 * Deepest nesting of metadata arrays read (an array of arrays is depth 2). Real files nest one or two
 * levels; a hostile file nesting thousands would overflow the call stack of this recursive reader.
 */
export const MAX_ARRAY_DEPTH = 8;

function readArray(c: FileCursor, key: string, depth = 1): GgufKV {
  const at = c.pos;
  if (depth > MAX_ARRAY_DEPTH) {
    throw corrupt(c.file, at, `metadata ${key.split("[")[0]} nests arrays deeper than ${MAX_ARRAY_DEPTH} levels`);
  }
  const itemType = c.u32(`array type of ${key}`) as GgufValueType;
  const fixed = VALUE_TYPE_SIZES[itemType];
  if (itemType === GgufValueType.STRING) {
    const n = c.count(`array length of ${key}`, 8);
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = c.str(`${key}[${i}]`);
    return { type: GgufValueType.ARRAY, itemType, value: out };
  }
  if (itemType === GgufValueType.ARRAY) {
    const n = c.count(`array length of ${key}`, 12);
    const out: GgufKV[] = [];
    for (let i = 0; i < n; i++) out.push(readArray(c, `${key}[${i}]`, depth + 1));
    return { type: GgufValueType.ARRAY, itemType, value: out };
  }
  if (fixed === undefined) throw corrupt(c.file, at, `metadata ${key} has unknown array item type ${itemType}`);
  const n = c.count(`array length of ${key}`, fixed);
  const raw = c.bytes(n * fixed, `array ${key}`);
  return { type: GgufValueType.ARRAY, itemType, value: typedArray(itemType, raw, n) };
}

function typedArray(t: GgufValueType, raw: Uint8Array, n: number): GgufValue {
  const b = raw.buffer;
  switch (t) {
    case GgufValueType.UINT8:
      return new Uint8Array(b, 0, n);
    case GgufValueType.INT8:
      return new Int8Array(b, 0, n);
    case GgufValueType.UINT16:
      return new Uint16Array(b, 0, n);
    case GgufValueType.INT16:
      return new Int16Array(b, 0, n);
    case GgufValueType.UINT32:
      return new Uint32Array(b, 0, n);
    case GgufValueType.INT32:
      return new Int32Array(b, 0, n);
    case GgufValueType.FLOAT32:
      return new Float32Array(b, 0, n);
    case GgufValueType.FLOAT64:
      return new Float64Array(b, 0, n);
    case GgufValueType.UINT64:
      return new BigUint64Array(b, 0, n);
    case GgufValueType.INT64:
      return new BigInt64Array(b, 0, n);
    default:
      return Array.from(raw, (v) => v !== 0); // BOOL
  }
}

function readValue(c: FileCursor, type: number, key: string): GgufKV {
  const w = `metadata ${key}`;
  switch (type) {
    case GgufValueType.UINT8:
      return { type, value: c.u8(w) };
    case GgufValueType.INT8:
      return { type, value: c.i8(w) };
    case GgufValueType.UINT16:
      return { type, value: c.u16(w) };
    case GgufValueType.INT16:
      return { type, value: c.i16(w) };
    case GgufValueType.UINT32:
      return { type, value: c.u32(w) };
    case GgufValueType.INT32:
      return { type, value: c.i32(w) };
    case GgufValueType.FLOAT32:
      return { type, value: c.f32(w) };
    case GgufValueType.BOOL:
      return { type, value: c.u8(w) !== 0 };
    case GgufValueType.STRING:
      return { type, value: c.str(w) };
    case GgufValueType.UINT64:
      return { type, value: c.u64(w) };
    case GgufValueType.INT64:
      return { type, value: c.i64(w) };
    case GgufValueType.FLOAT64:
      return { type, value: c.f64(w) };
    case GgufValueType.ARRAY:
      return readArray(c, key);
    default:
      throw corrupt(c.file, c.pos - 4, `metadata ${key} has unknown value type ${type}`);
  }
}

function readTensorInfo(c: FileCursor, index: number): Omit<GgufTensorInfo, "offset"> {
  const at = c.pos;
  const name = c.str(`tensor ${index} name`);
  const nDims = c.u32(`tensor ${name} dims`);
  if (nDims === 0 || nDims > GGML_MAX_DIMS) throw corrupt(c.file, at, `tensor ${name} has ${nDims} dims`);
  const dims: number[] = [];
  let count = 1n;
  for (let d = 0; d < nDims; d++) {
    const n = c.u64(`tensor ${name} dim ${d}`);
    count *= n;
    if (count > MAX_SAFE) throw corrupt(c.file, at, `tensor ${name} has too many elements`);
    dims.push(Number(n));
  }
  const typeAt = c.pos;
  const type = c.u32(`tensor ${name} type`);
  if (!isKnownGgmlType(type)) {
    throw new InfuseError(
      "gguf.unknown_type",
      `${c.file}: tensor ${name} has unknown GGML type ${type} (byte ${typeAt})`,
      {
        kind: "input",
        hint: "the file needs a newer reader, or it is corrupt",
        details: { file: c.file, tensor: name, offset: typeAt, type },
      },
    );
  }
  const elementCount = Number(count);
  const byteSize = tensorByteSize(type, elementCount);
  if (byteSize === undefined) {
    throw new InfuseError(
      "gguf.size_mismatch",
      `${c.file}: tensor ${name} of ${elementCount} elements cannot be stored as ${ggmlTypeName(type)} (byte ${typeAt})`,
      {
        kind: "input",
        hint: "its row length is not a multiple of the block size",
        details: { file: c.file, tensor: name, offset: typeAt },
      },
    );
  }
  const relativeOffset = Number(c.u64(`tensor ${name} offset`));
  return { name, dims, type, elementCount, byteSize, relativeOffset };
}

/** Opens a GGUF file and parses everything before the tensor data. Tensor bytes are read on demand. */
export async function openGguf(path: string, options: TaskOptions = {}): Promise<GgufFile> {
  throwIfAborted(options.signal, `open ${path}`);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new InfuseError("gguf.open_failed", `${path}: cannot open (${(e as Error).message})`, {
      kind: (e as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io",
      cause: e,
    });
  }
  try {
    return parse(fd, path, fstatSync(fd).size);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function parse(fd: number, path: string, fileSize: number): GgufFile {
  const c = new FileCursor(fd, fileSize, path);
  const magic = c.u32("magic");
  if (magic !== GGUF_MAGIC) throw corrupt(path, 0, "not a GGUF file: bad magic", "pass a .gguf model file");
  const version = c.u32("version");
  if (version < 2 || version > 3) {
    throw new InfuseError("gguf.version", `${path}: GGUF version ${version} is not supported (byte 4)`, {
      kind: "input",
      hint: "convert it again with a current llama.cpp (GGUF v3)",
      details: { file: path, offset: 4, version },
    });
  }
  const tensorCount = c.count("tensor count", 24);
  const kvCount = c.count("metadata count", 13);
  const metadata = new Map<string, GgufKV>();
  for (let i = 0; i < kvCount; i++) {
    const at = c.pos;
    const key = c.str(`metadata key ${i}`);
    if (metadata.has(key)) throw corrupt(path, at, `duplicate metadata key ${key}`);
    metadata.set(key, readValue(c, c.u32(`metadata ${key} type`), key));
  }
  const alignKv = metadata.get(GGUF_KEYS.alignment);
  const alignment = alignKv === undefined ? GGUF_DEFAULT_ALIGNMENT : Number(alignKv.value);
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw corrupt(path, c.pos, `general.alignment ${String(alignKv?.value)} is not a power of two`);
  }
  const infos: Omit<GgufTensorInfo, "offset">[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = c.pos;
    const info = readTensorInfo(c, i);
    if (names.has(info.name)) throw corrupt(path, at, `duplicate tensor ${info.name}`);
    names.add(info.name);
    infos.push(info);
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = infos.map((t) => {
    const offset = dataOffset + t.relativeOffset;
    if (t.relativeOffset % alignment !== 0)
      throw corrupt(path, offset, `tensor ${t.name} is not aligned to ${alignment}`);
    if (offset + t.byteSize > fileSize) {
      throw new InfuseError(
        "gguf.truncated",
        `${path}: tensor ${t.name} at byte ${offset} needs ${t.byteSize} bytes but the file ends at ${fileSize}`,
        {
          kind: "input",
          hint: "the file is truncated; download or write it again",
          details: { file: path, tensor: t.name, offset },
        },
      );
    }
    return { ...t, offset };
  });
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const archKv = metadata.get(GGUF_KEYS.architecture);
  let closed = false;

  const info = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (!t) {
      throw new InfuseError("gguf.no_tensor", `${path}: no tensor named ${name}`, {
        kind: "not_found",
        details: { file: path, tensor: name },
      });
    }
    return t;
  };
  const readTensorInto = async (name: string, out: Uint8Array, options: TaskOptions = {}): Promise<void> => {
    const t = info(name);
    throwIfAborted(options.signal, `read ${name}`);
    if (closed) throw new InfuseError("gguf.closed", `${path}: read of ${name} after close`, { kind: "internal" });
    if (out.byteLength !== t.byteSize) {
      throw new InfuseError("gguf.bad_read", `${path}: ${name} is ${t.byteSize} bytes, not ${out.byteLength}`, {
        kind: "internal",
      });
    }
    let got = 0;
    while (got < t.byteSize) {
      const r = await new Promise<number>((resolve, reject) =>
        read(fd, out, got, t.byteSize - got, t.offset + got, (err, n) => (err ? reject(err) : resolve(n))),
      );
      if (r === 0) throw corrupt(path, t.offset + got, `tensor ${name} ends early`);
      got += r;
    }
  };
  const readTensorBytes = async (name: string, options: TaskOptions = {}): Promise<Uint8Array> => {
    const out = new Uint8Array(info(name).byteSize);
    await readTensorInto(name, out, options);
    return out;
  };
  return {
    path,
    version,
    alignment,
    dataOffset,
    fileSize,
    metadata,
    tensors,
    tensor: (name) => byName.get(name),
    get: (key) => metadata.get(key)?.value,
    architecture: typeof archKv?.value === "string" ? archKv.value : "",
    readTensorBytes,
    readTensorInto,
    async readTensorF32(name, options) {
      const t = info(name);
      const bytes = await readTensorBytes(name, options);
      // F32: the buffer just read is the tensor (its own, 4-byte aligned); a copy would leave the
      // read buffer as garbage, and freeing megabyte buffers raises glibc's mmap threshold (peak RSS).
      if (t.type === GgmlType.F32) return new Float32Array(bytes.buffer, 0, t.elementCount);
      return dequantize(t.type, bytes, t.elementCount, `${path}: tensor ${name}`);
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
