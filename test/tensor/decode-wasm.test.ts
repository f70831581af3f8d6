import { describe, expect, it } from "vitest";
import { dequantizeNF4, dequantizeQ4_0, dequantizeQ8_0, NF4, Q4_0, Q8_0 } from "../../src/tensor/quant/blocks.js";
import { setWasmDecode, wasmDecodes, wasmDequantize } from "../../src/tensor/quant/decode-wasm.js";
import { quantize } from "../../src/tensor/quant/formats.js";
import { Rng } from "../../src/tensor/rng.js";

const TYPES = [
  { type: "q4_0", layout: Q4_0, js: dequantizeQ4_0 },
  { type: "q8_0", layout: Q8_0, js: dequantizeQ8_0 },
  { type: "nf4", layout: NF4, js: dequantizeNF4 },
] as const;

/** Bytes of any value: every f16/f32 scale (subnormal, Inf, NaN) and every code. */
function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rng.uniform() * 256));
}

/** Equal as f32 bit patterns, NaN matching NaN. */
function sameValues(a: Float32Array, b: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) bad++;
  return bad;
}

describe("WebAssembly SIMD block decoders", () => {
  it("exist on this runtime (Node 20 has WebAssembly SIMD)", () => {
    for (const { type } of TYPES) expect(wasmDecodes(type)).toBe(true);
    expect(wasmDecodes("q4_k")).toBe(false);
  });

  for (const { type, layout, js } of TYPES) {
    it(`${type}: the same f32 values as the JavaScript decoder, any bytes, any block range`, () => {
      // more blocks than one slab (64 Ki values), started mid-tensor, so slab edges and offsets are covered
      const blocks = (1 << 17) / layout.blockValues + 7;
      const src = randomBytes((blocks + 5) * layout.blockBytes, 11);
      const [want, got] = [
        new Float32Array(blocks * layout.blockValues),
        new Float32Array(blocks * layout.blockValues),
      ];
      js(src, 5, blocks, want);
      expect(wasmDequantize(type, src, 5, blocks, got)).toBe(true);
      expect(sameValues(want, got)).toBe(0);
      // the last block of the bytes alone
      const one = new Float32Array(layout.blockValues);
      const last = new Float32Array(layout.blockValues);
      js(src, blocks + 4, 1, last);
      wasmDequantize(type, src, blocks + 4, 1, one);
      expect(sameValues(last, one)).toBe(0);
    });
  }

  it("QuantTensor.dequantizeRows takes the WebAssembly path and gives the JavaScript one's values", () => {
    const rng = new Rng(3);
    const values = Float32Array.from({ length: 96 * 128 }, () => rng.uniform() * 2 - 1);
    for (const { type } of TYPES) {
      const w = quantize(type, values, [96, 128]);
      const fast = new Float32Array(40 * 128);
      w.dequantizeRows(17, 57, fast);
      const before = setWasmDecode(false);
      expect(wasmDequantize(type, w.bytes, 0, 1, new Float32Array(64))).toBe(false);
      const slow = new Float32Array(40 * 128);
      w.dequantizeRows(17, 57, slow);
      setWasmDecode(before);
      expect(sameValues(slow, fast)).toBe(0);
    }
  });
});
