// Q4_0, Q8_0 and NF4 block decoding in WebAssembly SIMD: the same f32 values as blocks.ts' decoders
// (each value one f32 product, as there), ~4× faster than those JavaScript loops, which left a core
// idle beside the matmul kernels in QLoRA training. The module is assembled here from its opcodes (no
// toolchain, no file); a runtime without WebAssembly SIMD gets null and keeps the JavaScript decoders.
// Leaves out the other storage types (Q4_K, Q5/Q6, F16…): blocks.ts decodes them.
import { F16_TABLE } from "./half.js";
import { NF4, NF4_LEVELS, Q4_0, Q8_0 } from "./blocks.js";

export type WasmDecodable = "q4_0" | "q8_0" | "nf4";

/** Memory layout: the f16 → f32 table, NF4's byte → (level, level) pairs, then a source and an output slab. */
const F16_AT = 0;
const PAIRS_AT = 65536 * 4;
const SRC_AT = PAIRS_AT + 256 * 8;
/** Values per call (256 KiB of f32 out: stays in L2 for the copy out) and the source slab's bytes. */
const SLAB_VALUES = 1 << 16;
const SRC_BYTES = (SLAB_VALUES / 32) * Q8_0.blockBytes + 64; // the largest bytes per value of the three, + load slack
const OUT_AT = SRC_AT + SRC_BYTES;
const PAGES = Math.ceil((OUT_AT + SLAB_VALUES * 4) / 65536);

const LAYOUT = {
  q4_0: { block: Q4_0, fn: 0 },
  q8_0: { block: Q8_0, fn: 1 },
  nf4: { block: NF4, fn: 2 },
} as const;

// --- a minimal WebAssembly encoder: the opcodes the three decoders use ---
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

const [SRC, DST, N, DV, V, LO, HI] = [0, 1, 2, 3, 4, 5, 6]; // params (i32 ×3), then v128 locals
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const tee = (i: number) => [0x22, i];
const i32 = (v: number) => [0x41, ...sleb(v)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const mem = (align: number, offset: number) => [align, ...uleb(offset)];
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_SHL = 0x74;
const [I32_LOAD16_U, I32_LOAD8_U, F32_LOAD] = [0x2f, 0x2d, 0x2a];
const splat8 = (b: number) => simd(0x0c, ...new Array<number>(16).fill(b)); // v128.const
const [V128_LOAD, LOAD8X8_S, V128_STORE, F32X4_SPLAT, V128_AND, I8X16_SHR_U, I8X16_SUB] = [
  0x00, 0x01, 0x0b, 0x13, 0x4e, 0x6d, 0x71,
];
const [EXT_LO_8, EXT_HI_8, EXT_LO_16, EXT_HI_16, LOAD64_LANE, LOAD64_ZERO, F32X4_MUL, CONVERT] = [
  0x87, 0x88, 0xa7, 0xa8, 0x57, 0x5d, 0xe6, 0xfa,
];

/** Stores i16x8 `x16` (the expression's code) ·d as 8 floats at dst+offset. */
function store8(x16: number[], offset: number): number[] {
  const half = (ext: number, at: number) => [
    ...get(DST),
    ...x16,
    ...simd(ext),
    ...simd(CONVERT),
    ...get(DV),
    ...simd(F32X4_MUL),
    ...simd(V128_STORE, ...mem(0, at)),
  ];
  return [...half(EXT_LO_16, offset), ...half(EXT_HI_16, offset + 16)];
}

/** `body` once per block, then src += srcStep, dst += dstStep, until n blocks are done (n ≥ 1). */
function blockLoop(body: number[], srcStep: number, dstStep: number): number[] {
  return [
    0x03, 0x40, // loop
    ...body,
    ...get(SRC), ...i32(srcStep), I32_ADD, ...set(SRC),
    ...get(DST), ...i32(dstStep), I32_ADD, ...set(DST),
    ...get(N), ...i32(1), I32_SUB, ...tee(N),
    0x0d, 0, // br_if 0
    0x0b, // end loop
  ]; // prettier-ignore
}

/** d = the block's f16 scale as f32x4, read through the table. */
const f16Scale = [
  ...get(SRC),
  I32_LOAD16_U,
  ...mem(0, 0),
  ...i32(2),
  I32_SHL,
  F32_LOAD,
  ...mem(2, F16_AT),
  ...simd(F32X4_SPLAT),
  ...set(DV),
];

function q4_0Body(): number[] {
  const nibbles = (x: number) => [...get(x), ...simd(EXT_LO_8)];
  const high = (x: number) => [...get(x), ...simd(EXT_HI_8)];
  const body = [
    ...f16Scale,
    ...get(SRC), ...simd(V128_LOAD, ...mem(0, 2)), ...set(V),
    ...get(V), ...splat8(0x0f), ...simd(V128_AND), ...splat8(8), ...simd(I8X16_SUB), ...set(LO),
    ...get(V), ...i32(4), ...simd(I8X16_SHR_U), ...splat8(8), ...simd(I8X16_SUB), ...set(HI),
    // Q4_0 byte j: element j (low nibble), element j+16 (high nibble)
    ...store8(nibbles(LO), 0), ...store8(high(LO), 32),
    ...store8(nibbles(HI), 64), ...store8(high(HI), 96),
  ]; // prettier-ignore
  return blockLoop(body, Q4_0.blockBytes, 128);
}

function q8_0Body(): number[] {
  const body = [...f16Scale];
  for (let i = 0; i < 4; i++) body.push(...store8([...get(SRC), ...simd(LOAD8X8_S, ...mem(0, 2 + 8 * i))], 32 * i));
  return blockLoop(body, Q8_0.blockBytes, 128);
}

function nf4Body(): number[] {
  const body = [...get(SRC), F32_LOAD, ...mem(0, 0), ...simd(F32X4_SPLAT), ...set(DV)]; // absmax (f32)
  const pair = (j: number) => [...get(SRC), I32_LOAD8_U, ...mem(0, 4 + j), ...i32(3), I32_SHL]; // byte j's pair address
  for (let j = 0; j < 32; j += 2) {
    // 4 floats: byte j's pair into lanes 0-1, byte j+1's into lanes 2-3, times absmax
    body.push(...get(DST), ...pair(j), ...simd(LOAD64_ZERO, ...mem(0, PAIRS_AT)), ...set(V));
    body.push(...pair(j + 1), ...get(V), ...simd(LOAD64_LANE, ...mem(0, PAIRS_AT), 1));
    body.push(...get(DV), ...simd(F32X4_MUL), ...simd(V128_STORE, ...mem(0, 8 * j)));
  }
  return blockLoop(body, NF4.blockBytes, 256);
}

function moduleBytes(): Uint8Array {
  const funcType = [0x60, 3, 0x7f, 0x7f, 0x7f, 0];
  const code = (body: number[]) => {
    const fn = [1, 4, 0x7b, ...body, 0x0b]; // 4 v128 locals
    return [...uleb(fn.length), ...fn];
  };
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([funcType])),
    ...section(3, vec([[0], [0], [0]])),
    ...section(5, vec([[0, ...uleb(PAGES)]])),
    ...section(7, vec([[...str("mem"), 2, 0], [...str("q4_0"), 0, 0], [...str("q8_0"), 0, 1], [...str("nf4"), 0, 2]])),
    ...section(10, [...uleb(3), ...code(q4_0Body()), ...code(q8_0Body()), ...code(nf4Body())]),
  ]); // prettier-ignore
}

/** The part of the WebAssembly API used here (this project's compiler settings leave out its DOM types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  buffer: ArrayBuffer;
}

interface Decoder {
  memory: WasmMemory;
  fns: ((src: number, dst: number, blocks: number) => void)[];
}

let decoder: Decoder | null | undefined;
let enabled = process.env.INFUSE_WASM_DECODE !== "0";

/** The instantiated module; null where WebAssembly SIMD is missing (or INFUSE_WASM_DECODE=0). */
function instance(): Decoder | null {
  if (decoder !== undefined) return decoder;
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    if (!wasm) throw new Error("no WebAssembly");
    const inst = new wasm.Instance(new wasm.Module(moduleBytes()));
    const e = inst.exports as Record<string, unknown>;
    const memory = e.mem as WasmMemory;
    new Float32Array(memory.buffer, F16_AT, 65536).set(F16_TABLE);
    const pairs = new Float32Array(memory.buffer, PAIRS_AT, 512);
    for (let p = 0; p < 256; p++) [pairs[2 * p], pairs[2 * p + 1]] = [NF4_LEVELS[p >> 4]!, NF4_LEVELS[p & 15]!];
    const fns = ["q4_0", "q8_0", "nf4"].map((n) => e[n] as Decoder["fns"][number]);
    decoder = { memory, fns };
  } catch {
    decoder = null;
  }
  return decoder;
}

/** Turns the WebAssembly decoders off or on (tests compare the two paths); returns the previous state. */
export function setWasmDecode(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/** Whether the WebAssembly decoders serve `type` here. */
export function wasmDecodes(type: string): type is WasmDecodable {
  return enabled && type in LAYOUT && instance() !== null;
}

/**
 * Decodes `blocks` blocks of `type` from `src` (starting at block `firstBlock`) into `out`, as blocks.ts'
 * decoder of that type does; false (nothing written) where the WebAssembly path is not available.
 */
export function wasmDequantize(
  type: string,
  src: Uint8Array,
  firstBlock: number,
  blocks: number,
  out: Float32Array,
): boolean {
  if (!wasmDecodes(type)) return false;
  const { memory, fns } = instance()!;
  const { block, fn } = LAYOUT[type];
  const slabBlocks = SLAB_VALUES / block.blockValues;
  const heap = new Uint8Array(memory.buffer);
  const decoded = new Float32Array(memory.buffer, OUT_AT, SLAB_VALUES);
  for (let b0 = 0; b0 < blocks; b0 += slabBlocks) {
    const n = Math.min(slabBlocks, blocks - b0);
    const from = (firstBlock + b0) * block.blockBytes;
    heap.set(src.subarray(from, from + n * block.blockBytes), SRC_AT);
    fns[fn]!(SRC_AT, OUT_AT, n);
    out.set(decoded.subarray(0, n * block.blockValues), b0 * block.blockValues);
  }
  return true;
}
