// Typed constructors for GGUF metadata entries (llama.cpp checks key types strictly, so a
// writer must say u32 vs f32). Leaves out encoding; see writer.ts.
import { GgufValueType, type GgufKV, type GgufValue } from "./types.js";

export const kv = {
  u8: (v: number): GgufKV => ({ type: GgufValueType.UINT8, value: v }),
  u32: (v: number): GgufKV => ({ type: GgufValueType.UINT32, value: v }),
  i32: (v: number): GgufKV => ({ type: GgufValueType.INT32, value: v }),
  u64: (v: bigint | number): GgufKV => ({ type: GgufValueType.UINT64, value: BigInt(v) }),
  f32: (v: number): GgufKV => ({ type: GgufValueType.FLOAT32, value: v }),
  f64: (v: number): GgufKV => ({ type: GgufValueType.FLOAT64, value: v }),
  bool: (v: boolean): GgufKV => ({ type: GgufValueType.BOOL, value: v }),
  str: (v: string): GgufKV => ({ type: GgufValueType.STRING, value: v }),
  strs: (v: string[]): GgufKV => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value: v }),
  f32s: (v: ArrayLike<number>): GgufKV => ({
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.FLOAT32,
    value: Float32Array.from(v),
  }),
  i32s: (v: ArrayLike<number>): GgufKV => ({
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.INT32,
    value: Int32Array.from(v),
  }),
  u32s: (v: ArrayLike<number>): GgufKV => ({
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.UINT32,
    value: Uint32Array.from(v),
  }),
};

/** A plain JS view of a metadata value (typed arrays become number arrays). */
export function plainValue(v: GgufValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<number | bigint>);
  return v;
}
