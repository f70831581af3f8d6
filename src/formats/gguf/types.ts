// GGML tensor types and GGUF metadata value types, with each quant block's layout written as
// the sum of its fields (as ggml-common.h declares them). Leaves out reading and writing.

/** GGML tensor type ids as stored in a GGUF tensor info (ggml.h `enum ggml_type`). */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

const F16_BYTES = 2;
const F32_BYTES = 4;
/** Elements per block of the legacy quants (QK4_0, QK8_0, ...). */
export const QK = 32;
/** Elements per super-block of the k-quants (QK_K). */
export const QK_K = 256;
/** Bytes of the packed 6-bit scales and mins in Q4_K/Q5_K (K_SCALE_SIZE). */
export const K_SCALE_SIZE = 12;

export interface BlockLayout {
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/** Block layouts of every type we know the size of; a type missing here cannot be sized. */
export const BLOCK_LAYOUTS: Partial<Record<GgmlType, BlockLayout>> = {
  [GgmlType.F32]: { blockSize: 1, typeSize: F32_BYTES },
  [GgmlType.F16]: { blockSize: 1, typeSize: F16_BYTES },
  [GgmlType.BF16]: { blockSize: 1, typeSize: F16_BYTES },
  [GgmlType.F64]: { blockSize: 1, typeSize: 8 },
  [GgmlType.I8]: { blockSize: 1, typeSize: 1 },
  [GgmlType.I16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.I32]: { blockSize: 1, typeSize: 4 },
  [GgmlType.I64]: { blockSize: 1, typeSize: 8 },
  // d + qs[QK/2]
  [GgmlType.Q4_0]: { blockSize: QK, typeSize: F16_BYTES + QK / 2 },
  // d + m + qs[QK/2]
  [GgmlType.Q4_1]: { blockSize: QK, typeSize: 2 * F16_BYTES + QK / 2 },
  // d + qh[4] + qs[QK/2]
  [GgmlType.Q5_0]: { blockSize: QK, typeSize: F16_BYTES + 4 + QK / 2 },
  // d + m + qh[4] + qs[QK/2]
  [GgmlType.Q5_1]: { blockSize: QK, typeSize: 2 * F16_BYTES + 4 + QK / 2 },
  // d + qs[QK]
  [GgmlType.Q8_0]: { blockSize: QK, typeSize: F16_BYTES + QK },
  // d + s + qs[QK]
  [GgmlType.Q8_1]: { blockSize: QK, typeSize: 2 * F16_BYTES + QK },
  // scales[QK_K/16] + qs[QK_K/4] + d + dmin
  [GgmlType.Q2_K]: { blockSize: QK_K, typeSize: QK_K / 16 + QK_K / 4 + 2 * F16_BYTES },
  // hmask[QK_K/8] + qs[QK_K/4] + scales[12] + d
  [GgmlType.Q3_K]: { blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 4 + 12 + F16_BYTES },
  // d + dmin + scales[12] + qs[QK_K/2]
  [GgmlType.Q4_K]: { blockSize: QK_K, typeSize: 2 * F16_BYTES + K_SCALE_SIZE + QK_K / 2 },
  // d + dmin + scales[12] + qh[QK_K/8] + qs[QK_K/2]
  [GgmlType.Q5_K]: { blockSize: QK_K, typeSize: 2 * F16_BYTES + K_SCALE_SIZE + QK_K / 8 + QK_K / 2 },
  // ql[QK_K/2] + qh[QK_K/4] + scales[QK_K/16] + d
  [GgmlType.Q6_K]: { blockSize: QK_K, typeSize: QK_K / 2 + QK_K / 4 + QK_K / 16 + F16_BYTES },
  // d (f32) + qs[QK_K] + bsums[QK_K/16] (int16)
  [GgmlType.Q8_K]: { blockSize: QK_K, typeSize: F32_BYTES + QK_K + (QK_K / 16) * 2 },
};

const TYPE_NAMES = new Map<number, string>(Object.entries(GgmlType).map(([k, v]) => [v, k]));

export function ggmlTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `unknown(${type})`;
}

export function isKnownGgmlType(type: number): type is GgmlType {
  return TYPE_NAMES.has(type);
}

/** Bytes a tensor of `count` elements of `type` takes, or undefined if the type cannot be sized. */
export function tensorByteSize(type: GgmlType, count: number): number | undefined {
  const layout = BLOCK_LAYOUTS[type];
  if (!layout || count % layout.blockSize !== 0) return undefined;
  return (count / layout.blockSize) * layout.typeSize;
}

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Bytes of each fixed-size value type (strings and arrays are variable). */
export const VALUE_TYPE_SIZES: Partial<Record<GgufValueType, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/** A metadata value as read or to be written: scalars, strings, typed arrays for numeric arrays. */
export type GgufValue =
  | number
  | bigint
  | boolean
  | string
  | string[]
  | boolean[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | GgufKV[];

/** One metadata entry with its exact GGUF type, so a read file writes back unchanged. */
export interface GgufKV {
  type: GgufValueType;
  /** For arrays: the element type. */
  itemType?: GgufValueType;
  value: GgufValue;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_DIMS: a tensor has at most this many dimensions. */
export const GGML_MAX_DIMS = 4;
