// Frozen-weight storage: raw bytes + a type tag, laid out as GGUF stores them so a GGUF tensor's bytes can
// be wrapped without copying. Rows are the last dim. f16, bf16, q8_0, q4_0, q4_k and nf4 can be written
// (`quantize`); q4_1, q5_0, q5_1, q5_k and q6_k are storage-only: read from GGUF files and decoded.
import { InfuseError } from "../../core/errors.js";
import { shapeStr } from "../shape.js";
import { F16_TABLE, f32ToBf16, f32ToF16 } from "./half.js";
import {
  dequantizeNF4,
  dequantizeQ4_0,
  dequantizeQ8_0,
  NF4,
  Q4_0,
  Q8_0,
  quantizeNF4,
  quantizeQ4_0,
  quantizeQ8_0,
} from "./blocks.js";
import { wasmDequantize } from "./decode-wasm.js";
import { dequantizeQ4_K, Q4_K, quantizeQ4_K } from "./q4k.js";
import {
  dequantizeQ4_1,
  dequantizeQ5_0,
  dequantizeQ5_1,
  dequantizeQ5_K,
  dequantizeQ6_K,
  Q4_1,
  Q5_0,
  Q5_1,
  Q5_K,
  Q6_K,
} from "./ggml-blocks.js";

export type QuantType = "f16" | "bf16" | "q8_0" | "q4_0" | "q4_k" | "nf4" | "q4_1" | "q5_0" | "q5_1" | "q5_k" | "q6_k";

/** Decodes `blocks` blocks starting at block `firstBlock` of `src` into `out` (from its index 0). */
export type BlockDecoder = (src: Uint8Array, firstBlock: number, blocks: number, out: Float32Array) => void;

export interface Codec {
  blockValues: number;
  blockBytes: number;
  /** Absent for storage-only types (we read them, we do not write them). */
  quantize?: (x: Float32Array, out: Uint8Array) => void;
  dequantize: BlockDecoder;
}

/** 16-bit codecs (f16, bf16): one value per "block"; `widen` turns aligned u16 words into f32 values. */
function halfCodec(toBits: (v: number) => number, widen: (words: Uint16Array, out: Float32Array) => void): Codec {
  return {
    blockValues: 1,
    blockBytes: 2,
    quantize: (x, out) => {
      for (let i = 0; i < x.length; i++) {
        const h = toBits(x[i]!);
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >> 8;
      }
    },
    dequantize: (src, first, n, out) => {
      const at = src.byteOffset + 2 * first;
      // A GGUF tensor's data is 32-byte aligned; copy only if handed an odd offset.
      const words =
        at % 2 === 0
          ? new Uint16Array(src.buffer, at, n)
          : new Uint16Array(src.slice(2 * first, 2 * (first + n)).buffer);
      widen(words, out);
    },
  };
}

const widenF16 = (words: Uint16Array, out: Float32Array): void => {
  for (let i = 0; i < words.length; i++) out[i] = F16_TABLE[words[i]!]!;
};

// bf16 is the top half of an f32: shift the bits into place through a u32 view of the output.
const widenBf16 = (words: Uint16Array, out: Float32Array): void => {
  const bits = new Uint32Array(out.buffer, out.byteOffset, words.length);
  for (let i = 0; i < words.length; i++) bits[i] = words[i]! << 16;
};

export const CODECS: Record<QuantType, Codec> = {
  f16: halfCodec(f32ToF16, widenF16),
  bf16: halfCodec(f32ToBf16, widenBf16),
  q8_0: { ...Q8_0, quantize: quantizeQ8_0, dequantize: dequantizeQ8_0 },
  q4_0: { ...Q4_0, quantize: quantizeQ4_0, dequantize: dequantizeQ4_0 },
  q4_k: { ...Q4_K, quantize: quantizeQ4_K, dequantize: dequantizeQ4_K },
  nf4: { ...NF4, quantize: quantizeNF4, dequantize: dequantizeNF4 },
  q4_1: { ...Q4_1, dequantize: dequantizeQ4_1 },
  q5_0: { ...Q5_0, dequantize: dequantizeQ5_0 },
  q5_1: { ...Q5_1, dequantize: dequantizeQ5_1 },
  q5_k: { ...Q5_K, dequantize: dequantizeQ5_K },
  q6_k: { ...Q6_K, dequantize: dequantizeQ6_K },
};

/** The types `quantize` can write. */
export const WRITABLE_TYPES = (Object.keys(CODECS) as QuantType[]).filter((t) => CODECS[t].quantize);

/**
 * Reads a weight's bytes again (e.g. its range of a GGUF file) after `releaseBytes()` dropped them: all
 * of them, or only `range` (byte offset and length within the weight) when the reader can.
 */
export type ByteReloader = (range?: { offset: number; length: number }) => Uint8Array;

/** Largest read `dequantizeRows` of a released weight serves from its file without holding the bytes again. */
export const ROW_READ_MAX_BYTES = 64 * 1024;

/**
 * A frozen weight in a storage type; `bytes` may be a view into a file buffer. With a `reload`, the
 * bytes can be dropped while a kernel holds its own copy (see qmatmul.ts) and are read back on use.
 */
export class QuantTensor {
  readonly type: QuantType;
  readonly shape: readonly number[];
  private held: Uint8Array | null;
  private readonly reload: ByteReloader | undefined;
  private readonly byteLength: number;

  constructor(type: QuantType, shape: readonly number[], bytes: Uint8Array, reload?: ByteReloader) {
    const codec = CODECS[type];
    if (!codec) {
      throw new InfuseError("tensor.wrong_dtype", `QuantTensor: unknown storage type "${String(type)}"`, {
        kind: "input",
        hint: `use one of ${Object.keys(CODECS).join(", ")}`,
      });
    }
    const values = shape.reduce((a, b) => a * b, 1);
    const rowLen = shape[shape.length - 1] ?? 1;
    if (rowLen % codec.blockValues !== 0 || (values / codec.blockValues) * codec.blockBytes !== bytes.byteLength) {
      throw new InfuseError(
        "tensor.shape_mismatch",
        `QuantTensor: ${type} ${shapeStr(shape)} needs rows divisible by ${codec.blockValues} and ${(values / codec.blockValues) * codec.blockBytes} bytes, got ${bytes.byteLength}`,
        {
          kind: "input",
          hint: "check the tensor's type and dims against its data",
          details: { type, shape: [...shape] },
        },
      );
    }
    this.type = type;
    this.shape = [...shape];
    this.held = bytes;
    this.reload = reload;
    this.byteLength = bytes.byteLength;
  }

  /** The stored bytes; read back through the reloader if they were released. */
  get bytes(): Uint8Array {
    if (this.held) return this.held;
    const bytes = this.reload!();
    if (bytes.byteLength !== this.byteLength) {
      throw new InfuseError(
        "tensor.reload_failed",
        `QuantTensor: reloaded ${bytes.byteLength} bytes for ${this.type} ${shapeStr(this.shape)}, expected ${this.byteLength}`,
        { hint: "the file the weight came from changed; load the model again" },
      );
    }
    return (this.held = bytes);
  }

  /** True while the bytes are in memory (not released). */
  get resident(): boolean {
    return this.held !== null;
  }

  /** Drops the bytes if they can be reloaded (a kernel holds its own copy); returns whether it did. */
  releaseBytes(): boolean {
    if (!this.reload) return false;
    this.held = null;
    return true;
  }

  get rows(): number {
    return this.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  }

  get rowLength(): number {
    return this.shape[this.shape.length - 1] ?? 1;
  }

  /**
   * Dequantizes rows [start, end) into `out` (length (end − start)·rowLength). On a released weight a
   * few rows (an embedding lookup) are read from its file alone, so a table whose matrix lives in a
   * kernel, or that is only ever looked up, stays out of memory; larger reads bring the bytes back.
   */
  dequantizeRows(start: number, end: number, out: Float32Array): void {
    const codec = CODECS[this.type];
    const perRow = this.rowLength / codec.blockValues;
    const length = (end - start) * perRow * codec.blockBytes;
    if (!this.held && this.reload && length <= ROW_READ_MAX_BYTES && length < this.byteLength) {
      const part = this.reload({ offset: start * perRow * codec.blockBytes, length });
      if (part.byteLength === length) {
        if (!wasmDequantize(this.type, part, 0, (end - start) * perRow, out))
          codec.dequantize(part, 0, (end - start) * perRow, out);
        return;
      }
    }
    // Q4_0/Q8_0/NF4 through WebAssembly SIMD where the runtime has it: the same values, ~5× faster
    if (wasmDequantize(this.type, this.bytes, start * perRow, (end - start) * perRow, out)) return;
    codec.dequantize(this.bytes, start * perRow, (end - start) * perRow, out);
  }

  dequantize(): Float32Array {
    const out = new Float32Array(this.rows * this.rowLength);
    this.dequantizeRows(0, this.rows, out);
    return out;
  }
}

/** The codec of a type `quantize` can write; `tensor.quantize_unsupported` for storage-only or unknown types. */
export function writableCodec(type: QuantType): Codec & Required<Pick<Codec, "quantize">> {
  const codec = CODECS[type] as Codec | undefined;
  if (!codec?.quantize) {
    throw new InfuseError(
      "tensor.quantize_unsupported",
      `quantize: cannot write ${String(type)}${codec ? " (storage-only: read from GGUF files, not written)" : ""}; writable types: ${WRITABLE_TYPES.join(", ")}`,
      {
        kind: "usage",
        hint: `pick one of ${WRITABLE_TYPES.join(", ")}`,
        details: { type, writable: [...WRITABLE_TYPES] },
      },
    );
  }
  return { ...codec, quantize: codec.quantize };
}

/**
 * Quantizes f32 values of `shape` to `type` (reference rounding; see blocks.ts and q4k.ts). Storage-only
 * types are `tensor.quantize_unsupported`.
 */
export function quantize(type: QuantType, values: Float32Array, shape: readonly number[]): QuantTensor {
  const codec = writableCodec(type);
  const rowLen = shape[shape.length - 1] ?? 1;
  if (rowLen % codec.blockValues !== 0 || values.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new InfuseError(
      "tensor.shape_mismatch",
      `quantize(${type}): ${values.length} values of shape ${shapeStr(shape)}; rows must be multiples of ${codec.blockValues}`,
      {
        kind: "input",
        hint: `pick a type whose block size divides ${rowLen}, or keep this weight in f16`,
      },
    );
  }
  const bytes = new Uint8Array((values.length / codec.blockValues) * codec.blockBytes);
  codec.quantize(values, bytes);
  return new QuantTensor(type, shape, bytes);
}
