// GGUF writer: metadata with exact types, tensor infos, aligned data; tensors given as float32
// (encoded to F32/F16/BF16/Q8_0/Q4_0 here) or as already-encoded bytes. Leaves out k-quant encoding.
import { open } from "node:fs/promises";
import { InfuseError } from "../../core/errors.js";
import { throwIfAborted } from "../../core/errors.js";
import { throttledProgress, type TaskOptions } from "../../core/progress.js";
import { GGUF_KEYS } from "./keys.js";
import { quantize } from "./quantize.js";
import {
  GGML_MAX_DIMS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GgufValueType,
  ggmlTypeName,
  tensorByteSize,
  type GgmlType,
  type GgufKV,
} from "./types.js";

/** A tensor to write. `dims` are GGML order (ne[0] = row length): a HF [out, in] weight is [in, out]. */
export type GgufTensorInput =
  | { name: string; dims: number[]; type: GgmlType; data: Float32Array }
  | { name: string; dims: number[]; type: GgmlType; bytes: Uint8Array };

export interface GgufWriteInput {
  /** Metadata in file order; `general.alignment` is honoured if present. */
  metadata: Map<string, GgufKV> | Record<string, GgufKV>;
  tensors: GgufTensorInput[];
}

class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u8(v: number) {
    this.grow(1);
    this.dv.setUint8(this.length++, v);
  }
  num(type: GgufValueType, v: number | bigint | boolean): void {
    const n = typeof v === "boolean" ? (v ? 1 : 0) : v;
    const at = this.length;
    switch (type) {
      case GgufValueType.UINT8:
      case GgufValueType.BOOL:
        return this.u8(Number(n));
      case GgufValueType.INT8:
        this.grow(1);
        this.dv.setInt8(at, Number(n));
        this.length += 1;
        return;
      case GgufValueType.UINT16:
      case GgufValueType.INT16:
        this.grow(2);
        if (type === GgufValueType.UINT16) this.dv.setUint16(at, Number(n), true);
        else this.dv.setInt16(at, Number(n), true);
        this.length += 2;
        return;
      case GgufValueType.UINT32:
      case GgufValueType.INT32:
      case GgufValueType.FLOAT32:
        this.grow(4);
        if (type === GgufValueType.UINT32) this.dv.setUint32(at, Number(n), true);
        else if (type === GgufValueType.INT32) this.dv.setInt32(at, Number(n), true);
        else this.dv.setFloat32(at, Number(n), true);
        this.length += 4;
        return;
      default:
        this.grow(8);
        if (type === GgufValueType.UINT64) this.dv.setBigUint64(at, BigInt(n), true);
        else if (type === GgufValueType.INT64) this.dv.setBigInt64(at, BigInt(n), true);
        else this.dv.setFloat64(at, Number(n), true);
        this.length += 8;
    }
  }
  u32(v: number) {
    this.num(GgufValueType.UINT32, v);
  }
  u64(v: number | bigint) {
    this.num(GgufValueType.UINT64, BigInt(v));
  }
  str(s: string) {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(alignment: number) {
    while (this.length % alignment !== 0) this.u8(0);
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function encodeKV(sink: ByteSink, key: string, kv: GgufKV): void {
  if (kv.type === GgufValueType.ARRAY) {
    const items = kv.value as ArrayLike<unknown>;
    const itemType = kv.itemType;
    if (itemType === undefined) throw usage(`metadata ${key}: an array needs itemType`);
    sink.u32(itemType);
    sink.u64(items.length);
    for (let i = 0; i < items.length; i++) {
      const v = items[i];
      if (itemType === GgufValueType.STRING) sink.str(String(v));
      else if (itemType === GgufValueType.ARRAY) encodeKV(sink, `${key}[${i}]`, v as GgufKV);
      else sink.num(itemType, v as number);
    }
    return;
  }
  if (kv.type === GgufValueType.STRING) {
    if (typeof kv.value !== "string") throw usage(`metadata ${key}: STRING needs a string value`);
    sink.str(kv.value);
    return;
  }
  const v = kv.value;
  if (typeof v !== "number" && typeof v !== "bigint" && typeof v !== "boolean") {
    throw usage(`metadata ${key}: type ${kv.type} needs a scalar value`);
  }
  sink.num(kv.type, v);
}

function usage(message: string): InfuseError {
  return new InfuseError("gguf.bad_input", message, { kind: "usage" });
}

/** The encoded header (everything before tensor data) and each tensor's relative offset. */
function layout(input: GgufWriteInput, alignment: number) {
  const entries = input.metadata instanceof Map ? [...input.metadata] : Object.entries(input.metadata);
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(input.tensors.length);
  sink.u64(entries.length);
  for (const [key, value] of entries) {
    sink.str(key);
    sink.u32(value.type);
    encodeKV(sink, key, value);
  }
  const offsets: number[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const t of input.tensors) {
    if (seen.has(t.name)) throw usage(`tensor ${t.name} is given twice`);
    seen.add(t.name);
    if (t.dims.length === 0 || t.dims.length > GGML_MAX_DIMS) throw usage(`tensor ${t.name}: ${t.dims.length} dims`);
    const count = t.dims.reduce((a, b) => a * b, 1);
    const size = tensorByteSize(t.type, count);
    const given = "data" in t ? t.data.length : t.bytes.byteLength;
    const expected = "data" in t ? count : size;
    if (size === undefined || given !== expected) {
      throw new InfuseError(
        "gguf.size_mismatch",
        `tensor ${t.name}: dims [${t.dims.join(", ")}] as ${ggmlTypeName(t.type)} need ${"data" in t ? `${count} values` : `${size} bytes`}, got ${given}`,
        { kind: "usage", details: { tensor: t.name } },
      );
    }
    sink.str(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(t.type);
    sink.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(size / alignment) * alignment;
  }
  sink.pad(alignment);
  return { header: sink.bytes(), offsets };
}

/** Writes a GGUF v3 file. Tensors are encoded and written one at a time. */
export async function writeGguf(path: string, input: GgufWriteInput, options: TaskOptions = {}): Promise<void> {
  const alignKv =
    input.metadata instanceof Map ? input.metadata.get(GGUF_KEYS.alignment) : input.metadata[GGUF_KEYS.alignment];
  const alignment = alignKv === undefined ? GGUF_DEFAULT_ALIGNMENT : Number(alignKv.value);
  const { header, offsets } = layout(input, alignment);
  const progress = throttledProgress(options.onProgress);
  const fh = await open(path, "w");
  try {
    let pos = 0;
    const put = async (b: Uint8Array) => {
      let done = 0;
      while (done < b.byteLength) done += (await fh.write(b, done, b.byteLength - done, pos + done)).bytesWritten;
      pos += b.byteLength;
    };
    await put(header);
    const dataStart = pos;
    for (let i = 0; i < input.tensors.length; i++) {
      throwIfAborted(options.signal, `write ${path}`);
      const t = input.tensors[i]!;
      const pad = dataStart + offsets[i]! - pos;
      if (pad > 0) await put(new Uint8Array(pad));
      await put("data" in t ? quantize(t.type, t.data, `tensor ${t.name}`) : t.bytes);
      progress({ task: `write ${path}`, done: i + 1, total: input.tensors.length, unit: "tensors", note: t.name });
    }
    const tail = (alignment - ((pos - dataStart) % alignment)) % alignment;
    if (tail > 0) await put(new Uint8Array(tail));
  } finally {
    await fh.close();
  }
}
