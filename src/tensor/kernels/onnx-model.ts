// A minimal ONNX ModelProto encoder (protobuf wire format written by hand): graph, nodes with
// attributes, typed inputs/outputs with symbolic dims, float/int64/uint8 initializers, opset imports.
// It writes only; it does not parse ONNX, and leaves out subgraphs, sparse tensors and training info.
import { InfuseError } from "../../core/errors.js";

/** ONNX TensorProto.DataType values this encoder writes. */
export const OnnxType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float16: 10, double: 11 } as const;
export type OnnxElemType = keyof typeof OnnxType;

/** A graph input/output: a fixed dim is a number, a symbolic one (any size at run time) a name. */
export interface OnnxValueInfo {
  name: string;
  type: OnnxElemType;
  dims: (number | string)[];
}

export type OnnxAttribute =
  | { name: string; int: number }
  | { name: string; float: number }
  | { name: string; ints: number[] }
  | { name: string; floats: number[] }
  | { name: string; string: string }
  | { name: string; tensor: OnnxInitializer }; // e.g. Constant's "value"

export interface OnnxNode {
  op: string;
  inputs: string[]; // "" marks an omitted optional input
  outputs: string[];
  name?: string;
  domain?: string; // "" (default ONNX domain) or e.g. "com.microsoft"
  attributes?: OnnxAttribute[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array | Uint8Array | Int8Array | Int32Array | OnnxFill | OnnxExternal;
  /** Needed when the array type is ambiguous (Uint8Array holding float16 bits: "float16") and for an OnnxFill. */
  type?: OnnxElemType;
}

/**
 * An initializer's raw bytes (little-endian), written by `write` straight into the encoded model: a
 * weight converted on the way (e.g. GGUF blocks to MatMulNBits) costs no copy of its own.
 */
export interface OnnxFill {
  byteLength: number;
  write(dst: Uint8Array): void;
}

/**
 * An initializer's raw bytes left in a file (e.g. a GGUF's f32 matrix): the model names the file, which
 * onnxruntime looks for in the session's external-initializer folder (ortGraph's `externalFolder`) and
 * reads in place (mmapped) while it builds the session.
 */
export interface OnnxExternal {
  /** The file's name inside that folder. */
  file: string;
  offset: number;
  byteLength: number;
}

export interface OnnxModelSpec {
  /** Default-domain opset version, e.g. 17; `extraOpsets` adds e.g. { "com.microsoft": 1 }. */
  opset: number;
  extraOpsets?: Record<string, number>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNode[];
  initializers?: OnnxInitializer[];
  graphName?: string;
  /** ModelProto.ir_version; 8 suits opsets up to 18. */
  irVersion?: number;
}

/**
 * Encodes a model to the bytes `InferenceSession.create()` accepts. `into`, given the model's byte
 * length, returns the buffer to write it in (e.g. a view of a reused scratch buffer); by default a new one.
 */
export function encodeOnnxModel(spec: OnnxModelSpec, into?: (byteLength: number) => Uint8Array): Uint8Array {
  const graph = new Writer();
  for (const node of spec.nodes) graph.message(1, encodeNode(node));
  graph.string(2, spec.graphName ?? "infuse");
  for (const init of spec.initializers ?? []) graph.message(5, encodeInitializer(init)); // weights: copied once, by model.finish()
  for (const v of spec.inputs) graph.message(11, encodeValueInfo(v));
  for (const v of spec.outputs) graph.message(12, encodeValueInfo(v));

  const model = new Writer();
  model.varint(1, spec.irVersion ?? 8);
  model.string(2, "infuse");
  model.message(7, graph);
  const opsets: [string, number][] = [["", spec.opset], ...Object.entries(spec.extraOpsets ?? {})];
  for (const [domain, version] of opsets) {
    const o = new Writer();
    if (domain !== "") o.string(1, domain);
    o.varint(2, version);
    model.message(8, o.finish());
  }
  return model.finish(into);
}

function encodeNode(node: OnnxNode): Uint8Array {
  const w = new Writer();
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  if (node.name !== undefined) w.string(3, node.name);
  w.string(4, node.op);
  for (const a of node.attributes ?? []) w.message(5, encodeAttribute(a));
  if (node.domain) w.string(7, node.domain);
  return w.finish();
}

// AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
function encodeAttribute(a: OnnxAttribute): Uint8Array {
  const w = new Writer();
  w.string(1, a.name);
  if ("int" in a) {
    w.varint(3, a.int);
    w.varint(20, 2);
  } else if ("float" in a) {
    w.float32(2, a.float);
    w.varint(20, 1);
  } else if ("ints" in a) {
    for (const v of a.ints) w.varint(8, v);
    w.varint(20, 7);
  } else if ("floats" in a) {
    for (const v of a.floats) w.float32(7, v);
    w.varint(20, 6);
  } else if ("tensor" in a) {
    w.message(5, encodeInitializer(a.tensor));
    w.varint(20, 4);
  } else {
    w.bytes(4, new TextEncoder().encode(a.string));
    w.varint(20, 3);
  }
  return w.finish();
}

function encodeValueInfo(v: OnnxValueInfo): Uint8Array {
  const shape = new Writer();
  for (const d of v.dims) {
    const dim = new Writer();
    if (typeof d === "number") dim.varint(1, d);
    else dim.string(2, d);
    shape.message(1, dim.finish());
  }
  const tensorType = new Writer();
  tensorType.varint(1, OnnxType[v.type]);
  tensorType.message(2, shape.finish());
  const type = new Writer();
  type.message(1, tensorType.finish());
  const info = new Writer();
  info.string(1, v.name);
  info.message(2, type.finish());
  return info.finish();
}

function encodeInitializer(init: OnnxInitializer): Writer {
  const data = init.data;
  if (!ArrayBuffer.isView(data) && !init.type) {
    throw new InfuseError(
      "onnx.initializer_type",
      `encodeOnnxModel: initializer "${init.name}" is filled or external but has no type`,
      {
        hint: "give an OnnxFill or OnnxExternal initializer its element type",
      },
    );
  }
  const type: OnnxElemType = init.type ?? elemTypeOf(data as Exclude<typeof data, OnnxFill | OnnxExternal>);
  const count = init.dims.reduce((a, b) => a * b, 1);
  const bytesPer = { float: 4, uint8: 1, int8: 1, int32: 4, int64: 8, float16: 2, double: 8 }[type];
  if (count * bytesPer !== init.data.byteLength) {
    throw new InfuseError(
      "onnx.initializer_size",
      `encodeOnnxModel: initializer "${init.name}" has dims [${init.dims.join(", ")}] (${count} × ${type}) but ${init.data.byteLength} bytes`,
      { hint: "give dims whose product matches the data length" },
    );
  }
  const w = new Writer();
  for (const d of init.dims) w.varint(1, d);
  w.varint(2, OnnxType[type]);
  w.string(8, init.name);
  if ("file" in data) {
    const entry = (key: string, value: string): Writer => {
      const e = new Writer();
      e.string(1, key);
      e.string(2, value);
      return e;
    };
    w.message(13, entry("location", data.file)); // TensorProto.external_data
    w.message(13, entry("offset", String(data.offset)));
    w.message(13, entry("length", String(data.byteLength)));
    w.varint(14, 1); // TensorProto.data_location: EXTERNAL
    return w;
  }
  // raw_data is little-endian, which typed arrays are on every platform Node supports.
  w.bytes(9, ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data);
  return w;
}

function elemTypeOf(data: Exclude<OnnxInitializer["data"], OnnxFill | OnnxExternal>): OnnxElemType {
  if (data instanceof Float32Array) return "float";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Int32Array) return "int32";
  return "uint8";
}

/** Protobuf wire-format writer: varint (type 0), fixed32 (type 5), length-delimited (type 2). */
class Writer {
  private chunks: (Uint8Array | OnnxFill)[] = [];
  private scratch: number[] = [];

  varint(field: number, value: number): void {
    this.tag(field, 0);
    this.rawVarint(BigInt(value));
  }

  float32(field: number, value: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.flush();
    this.chunks.push(b);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  bytes(field: number, value: Uint8Array | OnnxFill): void {
    this.tag(field, 2);
    this.rawVarint(BigInt(value.byteLength));
    this.flush();
    this.chunks.push(value);
  }

  /** A nested message; a Writer's chunks are taken as they are, so large payloads are copied once, by finish(). */
  message(field: number, body: Uint8Array | Writer): void {
    if (body instanceof Uint8Array) return this.bytes(field, body);
    body.flush();
    this.tag(field, 2);
    this.rawVarint(BigInt(body.byteLength()));
    this.flush();
    this.chunks.push(...body.chunks);
  }

  private byteLength(): number {
    return this.chunks.reduce((n, c) => n + c.byteLength, 0);
  }

  finish(into?: (byteLength: number) => Uint8Array): Uint8Array {
    this.flush();
    const total = this.byteLength();
    const out = into ? into(total) : new Uint8Array(total);
    if (out.byteLength !== total) {
      throw new InfuseError(
        "onnx.buffer_size",
        `encodeOnnxModel: the model is ${total} bytes, its buffer ${out.byteLength}`,
        {
          kind: "internal",
          hint: "the `into` callback must return a buffer of exactly the size it is given",
        },
      );
    }
    let at = 0;
    for (const c of this.chunks) {
      if (c instanceof Uint8Array) out.set(c, at);
      else c.write(out.subarray(at, at + c.byteLength));
      at += c.byteLength;
    }
    return out;
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(BigInt((field << 3) | wireType));
  }

  // Negative int64 values are written as 10-byte two's complement, as protobuf requires.
  private rawVarint(v: bigint): void {
    let u = BigInt.asUintN(64, v);
    do {
      let byte = Number(u & 0x7fn);
      u >>= 7n;
      if (u !== 0n) byte |= 0x80;
      this.scratch.push(byte);
    } while (u !== 0n);
  }

  private flush(): void {
    if (this.scratch.length > 0) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.scratch = [];
    }
  }
}
